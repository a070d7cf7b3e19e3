defmodule ElixirWorkers.JSON do
  @moduledoc """
  JSON for the worker: a decoder built on binary matching and an encoder that
  produces iodata.

  Both run on AtomVM's restricted standard library and on the BEAM: they use
  only BIFs, `:lists`/`:maps`/`:binary` and bit syntax. Objects decode to maps
  with binary keys, arrays to lists, `null` to `nil`.

  Limits: input above #{10 * 1024 * 1024} bytes and nesting deeper than 32
  levels are rejected with an error instead of exhausting the heap.
  """

  @max_depth 32
  @max_size 10 * 1024 * 1024

  @doc "The nesting limit of `decode/1`."
  def max_depth, do: @max_depth

  @doc "The size limit (bytes) of `decode/1`."
  def max_size, do: @max_size

  # ---------------------------------------------------------------------------
  # Decoding
  # ---------------------------------------------------------------------------

  @doc """
  Decodes a JSON document. Returns `{:ok, term}` or `{:error, message}`, where
  `message` is a binary that names the problem and its byte offset.
  """
  def decode(bin) when is_binary(bin) do
    if byte_size(bin) > @max_size do
      {:error, "JSON document larger than " <> :erlang.integer_to_binary(@max_size) <> " bytes"}
    else
      try do
        {value, rest} = value(skip_ws(bin), bin, 0)

        case skip_ws(rest) do
          <<>> -> {:ok, value}
          other -> fail(bin, other, "unexpected data after the JSON value")
        end
      catch
        :throw, {:elixir_workers_json, message} -> {:error, message}
      end
    end
  end

  def decode(_other), do: {:error, "JSON input must be a binary"}

  @doc "Like `decode/1` but raises `ArgumentError` on invalid input."
  def decode!(bin) do
    case decode(bin) do
      {:ok, value} -> value
      {:error, message} -> :erlang.error(ArgumentError.exception(message))
    end
  end

  defp fail(orig, rest, what) do
    offset = byte_size(orig) - byte_size(rest)
    throw({:elixir_workers_json, what <> " at byte " <> :erlang.integer_to_binary(offset)})
  end

  defp skip_ws(<<c, rest::binary>>) when c == ?\s or c == ?\n or c == ?\r or c == ?\t,
    do: skip_ws(rest)

  defp skip_ws(bin), do: bin

  defp value(<<?", rest::binary>>, orig, _depth), do: string(rest, orig)
  defp value(<<?{, rest::binary>>, orig, depth), do: object(rest, orig, depth + 1)
  defp value(<<?[, rest::binary>>, orig, depth), do: array(rest, orig, depth + 1)
  defp value(<<"true", rest::binary>>, _orig, _depth), do: {true, rest}
  defp value(<<"false", rest::binary>>, _orig, _depth), do: {false, rest}
  defp value(<<"null", rest::binary>>, _orig, _depth), do: {nil, rest}

  defp value(<<c, _::binary>> = bin, orig, _depth) when c == ?- or (c >= ?0 and c <= ?9),
    do: number(bin, orig)

  defp value(<<>> = rest, orig, _depth), do: fail(orig, rest, "unexpected end of input")
  defp value(rest, orig, _depth), do: fail(orig, rest, "unexpected character")

  # --- objects and arrays ----------------------------------------------------

  defp object(rest, orig, depth) when depth > @max_depth,
    do: fail(orig, rest, "nesting deeper than " <> :erlang.integer_to_binary(@max_depth))

  defp object(rest, orig, depth) do
    case skip_ws(rest) do
      <<?}, rest::binary>> -> {%{}, rest}
      rest -> object_pairs(rest, orig, depth, [])
    end
  end

  defp object_pairs(<<?", rest::binary>>, orig, depth, acc) do
    {key, rest} = string(rest, orig)

    case skip_ws(rest) do
      <<?:, rest::binary>> ->
        {val, rest} = value(skip_ws(rest), orig, depth)

        case skip_ws(rest) do
          <<?,, rest::binary>> -> object_pairs(skip_ws(rest), orig, depth, [{key, val} | acc])
          <<?}, rest::binary>> -> {:maps.from_list([{key, val} | acc]), rest}
          rest -> fail(orig, rest, "expected ',' or '}' in object")
        end

      rest ->
        fail(orig, rest, "expected ':' after object key")
    end
  end

  defp object_pairs(rest, orig, _depth, _acc), do: fail(orig, rest, "expected a string key")

  defp array(rest, orig, depth) when depth > @max_depth,
    do: fail(orig, rest, "nesting deeper than " <> :erlang.integer_to_binary(@max_depth))

  defp array(rest, orig, depth) do
    case skip_ws(rest) do
      <<?], rest::binary>> -> {[], rest}
      rest -> array_items(rest, orig, depth, [])
    end
  end

  defp array_items(rest, orig, depth, acc) do
    {val, rest} = value(rest, orig, depth)

    case skip_ws(rest) do
      <<?,, rest::binary>> -> array_items(skip_ws(rest), orig, depth, [val | acc])
      <<?], rest::binary>> -> {:lists.reverse([val | acc]), rest}
      rest -> fail(orig, rest, "expected ',' or ']' in array")
    end
  end

  # --- strings ----------------------------------------------------------------
  #
  # The common case, a string without escapes, costs two C-level searches
  # (`:binary.match`) and one sub-binary: no per-byte work in the VM. A string
  # with escapes is copied slice by slice between escapes.

  defp string(rest, orig) do
    case :binary.match(rest, "\"") do
      :nomatch ->
        fail(orig, <<>>, "unterminated string")

      {q, _} ->
        case :binary.match(rest, "\\", [{:scope, {0, q}}]) do
          :nomatch ->
            <<s::binary-size(q), ?", after_quote::binary>> = rest
            {s, after_quote}

          {b, _} ->
            <<s::binary-size(b), ?\\, esc_rest::binary>> = rest
            escaped(esc_rest, orig, [s])
        end
    end
  end

  # `rest` starts right after a backslash.
  defp escaped(rest, orig, acc) do
    {piece, rest} = escape_char(rest, orig)
    string_more(rest, orig, [acc, piece])
  end

  defp string_more(rest, orig, acc) do
    case :binary.match(rest, "\"") do
      :nomatch ->
        fail(orig, <<>>, "unterminated string")

      {q, _} ->
        case :binary.match(rest, "\\", [{:scope, {0, q}}]) do
          :nomatch ->
            <<s::binary-size(q), ?", after_quote::binary>> = rest
            {:erlang.iolist_to_binary([acc, s]), after_quote}

          {b, _} ->
            <<s::binary-size(b), ?\\, esc_rest::binary>> = rest
            escaped(esc_rest, orig, [acc, s])
        end
    end
  end

  defp escape_char(<<?", rest::binary>>, _orig), do: {"\"", rest}
  defp escape_char(<<?\\, rest::binary>>, _orig), do: {"\\", rest}
  defp escape_char(<<?/, rest::binary>>, _orig), do: {"/", rest}
  defp escape_char(<<?b, rest::binary>>, _orig), do: {"\b", rest}
  defp escape_char(<<?f, rest::binary>>, _orig), do: {"\f", rest}
  defp escape_char(<<?n, rest::binary>>, _orig), do: {"\n", rest}
  defp escape_char(<<?r, rest::binary>>, _orig), do: {"\r", rest}
  defp escape_char(<<?t, rest::binary>>, _orig), do: {"\t", rest}

  defp escape_char(<<?u, a, b, c, d, rest::binary>> = bin, orig) do
    case hex4(a, b, c, d) do
      hi when hi >= 0xD800 and hi <= 0xDBFF ->
        # A high surrogate must be followed by an escaped low surrogate; the
        # pair encodes one code point above U+FFFF.
        case rest do
          <<?\\, ?u, e, f, g, h, rest2::binary>> ->
            case hex4(e, f, g, h) do
              lo when lo >= 0xDC00 and lo <= 0xDFFF ->
                cp = 0x10000 + (hi - 0xD800) * 0x400 + (lo - 0xDC00)
                {<<cp::utf8>>, rest2}

              lo when lo >= 0 ->
                # Lone high surrogate: U+FFFD, then decode the next escape on its own.
                {piece, rest3} = escape_char(<<?u, e, f, g, h, rest2::binary>>, orig)
                {[<<0xFFFD::utf8>>, piece], rest3}

              _ ->
                fail(orig, bin, "invalid \\u escape")
            end

          _ ->
            {<<0xFFFD::utf8>>, rest}
        end

      lo when lo >= 0xDC00 and lo <= 0xDFFF ->
        {<<0xFFFD::utf8>>, rest}

      cp when cp >= 0 ->
        {<<cp::utf8>>, rest}

      _ ->
        fail(orig, bin, "invalid \\u escape")
    end
  end

  defp escape_char(rest, orig), do: fail(orig, rest, "invalid escape in string")

  defp hex4(a, b, c, d) do
    case {hex(a), hex(b), hex(c), hex(d)} do
      {w, x, y, z} when w >= 0 and x >= 0 and y >= 0 and z >= 0 ->
        w * 4096 + x * 256 + y * 16 + z

      _ ->
        -1
    end
  end

  defp hex(c) when c >= ?0 and c <= ?9, do: c - ?0
  defp hex(c) when c >= ?a and c <= ?f, do: c - ?a + 10
  defp hex(c) when c >= ?A and c <= ?F, do: c - ?A + 10
  defp hex(_), do: -1

  # --- numbers ----------------------------------------------------------------

  defp number(bin, orig) do
    {int_len, rest} = int_part(bin, 0)
    {frac_len, rest} = frac_part(rest)
    {exp_len, rest} = exp_part(rest)

    if int_len == 0 do
      fail(orig, bin, "invalid number")
    end

    <<int::binary-size(int_len), frac::binary-size(frac_len), exp::binary-size(exp_len),
      _::binary>> = bin

    value =
      if frac_len == 0 and exp_len == 0 do
        :erlang.binary_to_integer(int)
      else
        # Erlang's float syntax needs a fraction: "1e5" is written "1.0e5".
        frac = if frac_len == 0, do: ".0", else: frac
        :erlang.binary_to_float(:erlang.iolist_to_binary([int, frac, exp]))
      end

    {value, rest}
  end

  defp int_part(<<?-, rest::binary>>, 0) do
    {n, rest} = digits(rest, 0)
    if n == 0, do: {0, rest}, else: {n + 1, rest}
  end

  defp int_part(bin, 0), do: digits(bin, 0)

  defp frac_part(<<?., c, _::binary>> = bin) when c >= ?0 and c <= ?9 do
    <<?., rest::binary>> = bin
    {n, rest} = digits(rest, 0)
    {n + 1, rest}
  end

  defp frac_part(bin), do: {0, bin}

  defp exp_part(<<e, sign, c, _::binary>> = bin)
       when (e == ?e or e == ?E) and (sign == ?+ or sign == ?-) and c >= ?0 and c <= ?9 do
    <<_, _, rest::binary>> = bin
    {n, rest} = digits(rest, 0)
    {n + 2, rest}
  end

  defp exp_part(<<e, c, _::binary>> = bin) when (e == ?e or e == ?E) and c >= ?0 and c <= ?9 do
    <<_, rest::binary>> = bin
    {n, rest} = digits(rest, 0)
    {n + 1, rest}
  end

  defp exp_part(bin), do: {0, bin}

  defp digits(<<c, rest::binary>>, n) when c >= ?0 and c <= ?9, do: digits(rest, n + 1)
  defp digits(rest, n), do: {n, rest}

  # ---------------------------------------------------------------------------
  # Encoding
  # ---------------------------------------------------------------------------

  @doc """
  Encodes a term as JSON iodata. Maps (binary, atom or integer keys), lists,
  binaries (UTF-8), atoms, integers, floats, `nil`, `true` and `false` are
  supported; anything else raises `ArgumentError`.
  """
  def encode_to_iodata(term), do: enc(term)

  @doc "Encodes a term as a JSON binary."
  def encode(term), do: :erlang.iolist_to_binary(enc(term))

  defp enc(s) when is_binary(s), do: [?", escape(s), ?"]
  defp enc(n) when is_integer(n), do: :erlang.integer_to_binary(n)
  defp enc(f) when is_float(f), do: float(f)
  defp enc(nil), do: "null"
  defp enc(true), do: "true"
  defp enc(false), do: "false"
  defp enc(a) when is_atom(a), do: [?", escape(:erlang.atom_to_binary(a, :utf8)), ?"]
  defp enc([]), do: "[]"
  defp enc([h | t]), do: [?[, enc(h) | list_rest(t)]

  defp enc(m) when is_map(m) do
    case :maps.to_list(m) do
      [] -> "{}"
      [{k, v} | pairs] -> [?{, key(k), ?:, enc(v) | pairs_rest(pairs)]
    end
  end

  defp enc(other),
    do: :erlang.error(ArgumentError.exception("cannot encode as JSON: " <> inspect(other)))

  defp list_rest([]), do: [?]]
  defp list_rest([h | t]), do: [?,, enc(h) | list_rest(t)]
  defp list_rest(tail), do: enc(tail)

  defp pairs_rest([]), do: [?}]
  defp pairs_rest([{k, v} | t]), do: [?,, key(k), ?:, enc(v) | pairs_rest(t)]

  defp key(k) when is_binary(k), do: [?", escape(k), ?"]
  defp key(k) when is_atom(k), do: [?", escape(:erlang.atom_to_binary(k, :utf8)), ?"]
  defp key(k) when is_integer(k), do: [?", :erlang.integer_to_binary(k), ?"]

  defp key(other),
    do: :erlang.error(ArgumentError.exception("cannot encode as a JSON key: " <> inspect(other)))

  defp float(f) do
    case :erlang.system_info(:machine) do
      'BEAM' -> :erlang.float_to_binary(f, [:short])
      # AtomVM has no shortest round-trip formatting: take the fewest
      # significant digits that read back as the same float.
      _ -> shortest_float(f, 1)
    end
  end

  defp shortest_float(f, digits) do
    s = :erlang.float_to_binary(f, [{:scientific, digits}])

    if digits >= 16 or :erlang.binary_to_float(s) == f do
      s
    else
      shortest_float(f, digits + 1)
    end
  end

  @doc """
  Escapes a UTF-8 binary for use inside a JSON string (without the quotes).
  Returns iodata made of slices of the input. Raises `ArgumentError` when the
  input is not valid UTF-8.
  """
  def escape(s) do
    escape_run(s, s, 0, 0, [])
  end

  # Walks the input once; `skip` is where the current run of bytes that need
  # no escaping starts and `len` its length, so output is a few slices.
  defp escape_run(<<c, rest::binary>>, orig, skip, len, acc)
       when c >= 0x20 and c != ?" and c != ?\\ and c < 0x80,
       do: escape_run(rest, orig, skip, len + 1, acc)

  defp escape_run(<<c, rest::binary>>, orig, skip, len, acc) when c < 0x80 do
    acc = [acc, :binary.part(orig, skip, len), escape_byte(c)]
    escape_run(rest, orig, skip + len + 1, 0, acc)
  end

  defp escape_run(<<cp::utf8, rest::binary>>, orig, skip, len, acc) do
    escape_run(rest, orig, skip, len + utf8_size(cp), acc)
  end

  defp escape_run(<<>>, orig, 0, _len, []), do: orig
  defp escape_run(<<>>, orig, skip, len, acc), do: [acc, :binary.part(orig, skip, len)]

  defp escape_run(_rest, _orig, skip, len, _acc) do
    :erlang.error(
      ArgumentError.exception(
        "invalid UTF-8 in JSON string at byte " <> :erlang.integer_to_binary(skip + len)
      )
    )
  end

  defp utf8_size(cp) when cp < 0x800, do: 2
  defp utf8_size(cp) when cp < 0x10000, do: 3
  defp utf8_size(_cp), do: 4

  defp escape_byte(?"), do: "\\\""
  defp escape_byte(?\\), do: "\\\\"
  defp escape_byte(?\n), do: "\\n"
  defp escape_byte(?\r), do: "\\r"
  defp escape_byte(?\t), do: "\\t"
  defp escape_byte(?\b), do: "\\b"
  defp escape_byte(?\f), do: "\\f"

  defp escape_byte(c) do
    <<"\\u00", hex_digit(div(c, 16)), hex_digit(rem(c, 16))>>
  end

  defp hex_digit(d) when d < 10, do: ?0 + d
  defp hex_digit(d), do: ?a + d - 10
end
