defmodule ElixirWorkers.JSON do
  @moduledoc """
  JSON for the worker: a decoder built on binary matching and an encoder that
  produces iodata.

  Both run on AtomVM's restricted standard library and on the BEAM: they use
  only BIFs, `:lists`/`:maps`/`:binary` and bit syntax. Objects decode to maps
  with binary keys, arrays to lists, `null` to `nil`.

  Limits: input above #{10 * 1024 * 1024} bytes and nesting deeper than 32
  levels are rejected with an error instead of exhausting the heap
  (`decode/2` takes other limits).

  Strict input: raw control characters (below 0x20) and invalid UTF-8 inside
  strings, and numbers with leading zeros, are errors. So every decoded
  string is valid UTF-8 and encodes again without error.

  On AtomVM (the worker runtime) decoding and encoding run in C NIFs of the
  WASI adapter (`:wasi.json_decode/2`, `:wasi.json_encode/1`, see
  `crates/runtime/atomvm-wasi/README.md`), which give exactly the results this
  module's Elixir code gives on the BEAM and answer `:fallback` where they
  cannot; then this code runs. On the BEAM only this code runs.
  """

  # :wasi exists only inside the AtomVM WASI runtime.
  @compile {:no_warn_undefined, :wasi}

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
  def decode(bin), do: decode(bin, [])

  @doc """
  Like `decode/1` with other limits: `max_size:` (bytes) and `max_depth:`
  (nesting levels), each defaulting to the limit of `decode/1`.
  """
  def decode(bin, opts) when is_binary(bin) and is_list(opts) do
    max_size = opt(opts, :max_size, @max_size)
    max_depth = opt(opts, :max_depth, @max_depth)

    cond do
      byte_size(bin) > max_size ->
        {:error, "JSON document larger than " <> :erlang.integer_to_binary(max_size) <> " bytes"}

      ElixirWorkers.Runtime.vm() == :atomvm ->
        case :wasi.json_decode(bin, max_depth) do
          :fallback -> elixir_decode(bin, max_depth)
          result -> result
        end

      true ->
        elixir_decode(bin, max_depth)
    end
  end

  def decode(_other, _opts), do: {:error, "JSON input must be a binary"}

  @doc false
  # The Elixir decoder, whatever the VM: the reference the NIF is tested
  # against, and what runs when the NIF answers :fallback.
  def elixir_decode(bin, max_depth) do
    try do
      # The last argument counts the nesting levels still allowed.
      {value, rest} = value(skip_ws(bin), bin, max_depth)

      case skip_ws(rest) do
        <<>> -> {:ok, value}
        other -> fail(bin, other, "unexpected data after the JSON value")
      end
    catch
      :throw, {:elixir_workers_json, message} ->
        {:error, message}

      :throw, {:elixir_workers_json_depth, offset} ->
        {:error,
         "nesting deeper than " <> :erlang.integer_to_binary(max_depth) <>
           " at byte " <> :erlang.integer_to_binary(offset)}
    end
  end

  defp opt(opts, key, default) do
    case :lists.keyfind(key, 1, opts) do
      {^key, n} when is_integer(n) and n >= 0 -> n
      _ -> default
    end
  end

  @doc "Like `decode/1` but raises `ElixirWorkers.Error` on invalid input."
  def decode!(bin) do
    case decode(bin) do
      {:ok, value} -> value
      {:error, message} -> :erlang.error(ElixirWorkers.Error.exception(message))
    end
  end

  defp fail(orig, rest, what) do
    offset = byte_size(orig) - byte_size(rest)
    throw({:elixir_workers_json, what <> " at byte " <> :erlang.integer_to_binary(offset)})
  end

  defp too_deep(orig, rest),
    do: throw({:elixir_workers_json_depth, byte_size(orig) - byte_size(rest)})

  defp skip_ws(<<c, rest::binary>>) when c == ?\s or c == ?\n or c == ?\r or c == ?\t,
    do: skip_ws(rest)

  defp skip_ws(bin), do: bin

  defp value(<<?", rest::binary>>, orig, _depth), do: string(rest, orig)
  defp value(<<?{, rest::binary>>, orig, depth), do: object(rest, orig, depth - 1)
  defp value(<<?[, rest::binary>>, orig, depth), do: array(rest, orig, depth - 1)
  defp value(<<"true", rest::binary>>, _orig, _depth), do: {true, rest}
  defp value(<<"false", rest::binary>>, _orig, _depth), do: {false, rest}
  defp value(<<"null", rest::binary>>, _orig, _depth), do: {nil, rest}

  defp value(<<c, _::binary>> = bin, orig, _depth) when c == ?- or (c >= ?0 and c <= ?9),
    do: number(bin, orig)

  defp value(<<>> = rest, orig, _depth), do: fail(orig, rest, "unexpected end of input")
  defp value(rest, orig, _depth), do: fail(orig, rest, "unexpected character")

  # --- objects and arrays ----------------------------------------------------

  defp object(rest, orig, depth) when depth < 0, do: too_deep(orig, rest)

  defp object(rest, orig, depth) do
    case skip_ws(rest) do
      <<?}, rest::binary>> -> {:maps.from_list([]), rest}
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

  defp array(rest, orig, depth) when depth < 0, do: too_deep(orig, rest)

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
  # Measured on AtomVM (WASI): calling allocating NIFs (`:binary.match/3`,
  # `:binary.part/3`) once per string while a large decoded structure is live
  # costs a garbage collection of that structure on many calls, which made
  # decoding quadratic. So strings are scanned here with plain binary
  # matching (no allocation per byte), and a string without escapes becomes
  # one slice of the input.
  #
  # The same loop validates. Printable ASCII (the common case) takes the
  # first clause after the quote and backslash ones, with one guard; a byte
  # below 0x20 is an error; a byte >= 0x80 must start a sequence that
  # `<<cp::utf8>>` accepts (no overlong forms, surrogates or code points past
  # U+10FFFF), so only non-ASCII text pays for the check. The encoder escapes
  # with that same match, so every decoded string encodes again.

  defp string(rest, orig), do: plain(rest, rest, 0, orig)

  defp plain(<<?", _::binary>>, start, len, _orig) do
    <<s::binary-size(len), ?", after_quote::binary>> = start
    {s, after_quote}
  end

  defp plain(<<?\\, esc_rest::binary>>, start, len, orig) do
    <<s::binary-size(len), _::binary>> = start
    escaped(esc_rest, orig, [s])
  end

  defp plain(<<c, rest::binary>>, start, len, orig) when c >= 0x20 and c < 0x80,
    do: plain(rest, start, len + 1, orig)

  defp plain(<<c, _::binary>> = rest, _start, _len, orig) when c < 0x20,
    do: fail(orig, rest, "control character in string")

  defp plain(<<cp::utf8, rest::binary>>, start, len, orig),
    do: plain(rest, start, len + utf8_len(cp), orig)

  defp plain(<<>>, _start, _len, orig), do: fail(orig, <<>>, "unterminated string")
  defp plain(rest, _start, _len, orig), do: bad_utf8(orig, rest)

  # `rest` starts right after a backslash; `acc` is iodata of what came before.
  defp escaped(rest, orig, acc) do
    {piece, rest} = escape_char(rest, orig)
    more(rest, rest, 0, orig, [acc, piece])
  end

  defp more(<<?", _::binary>>, start, len, _orig, acc) do
    <<s::binary-size(len), ?", after_quote::binary>> = start
    {:erlang.iolist_to_binary([acc, s]), after_quote}
  end

  defp more(<<?\\, esc_rest::binary>>, start, len, orig, acc) do
    <<s::binary-size(len), _::binary>> = start
    escaped(esc_rest, orig, [acc, s])
  end

  defp more(<<c, rest::binary>>, start, len, orig, acc) when c >= 0x20 and c < 0x80,
    do: more(rest, start, len + 1, orig, acc)

  defp more(<<c, _::binary>> = rest, _start, _len, orig, _acc) when c < 0x20,
    do: fail(orig, rest, "control character in string")

  defp more(<<cp::utf8, rest::binary>>, start, len, orig, acc),
    do: more(rest, start, len + utf8_len(cp), orig, acc)

  defp more(<<>>, _start, _len, orig, _acc), do: fail(orig, <<>>, "unterminated string")
  defp more(rest, _start, _len, orig, _acc), do: bad_utf8(orig, rest)

  defp utf8_len(cp) when cp < 0x800, do: 2
  defp utf8_len(cp) when cp < 0x10000, do: 3
  defp utf8_len(_cp), do: 4

  defp bad_utf8(orig, rest), do: fail(orig, rest, "invalid UTF-8 in string")

  defp escape_char(<<?", rest::binary>>, _orig), do: {?", rest}
  defp escape_char(<<?\\, rest::binary>>, _orig), do: {?\\, rest}
  defp escape_char(<<?/, rest::binary>>, _orig), do: {?/, rest}
  defp escape_char(<<?b, rest::binary>>, _orig), do: {?\b, rest}
  defp escape_char(<<?f, rest::binary>>, _orig), do: {?\f, rest}
  defp escape_char(<<?n, rest::binary>>, _orig), do: {?\n, rest}
  defp escape_char(<<?r, rest::binary>>, _orig), do: {?\r, rest}
  defp escape_char(<<?t, rest::binary>>, _orig), do: {?\t, rest}

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
    case bin do
      <<?0, c, _::binary>> when c >= ?0 and c <= ?9 -> fail(orig, bin, "leading zero in number")
      <<?-, ?0, c, _::binary>> when c >= ?0 and c <= ?9 -> fail(orig, bin, "leading zero in number")
      _ -> :ok
    end

    {int_len, rest} = int_part(bin, 0)
    {frac_len, rest} = frac_part(rest)
    {exp_len, rest} = exp_part(rest)

    if int_len == 0 do
      fail(orig, bin, "invalid number")
    end

    <<int::binary-size(int_len), frac::binary-size(frac_len), exp::binary-size(exp_len),
      _::binary>> = bin

    # A number the VM cannot represent (1e400 as a float, or an integer past
    # AtomVM's bignum limit) raises badarg: that is bad input, not a crash.
    value =
      try do
        if frac_len == 0 and exp_len == 0 do
          :erlang.binary_to_integer(int)
        else
          # Erlang's float syntax needs a fraction: "1e5" is written "1.0e5".
          frac = if frac_len == 0, do: ".0", else: frac
          :erlang.binary_to_float(:erlang.iolist_to_binary([int, frac, exp]))
        end
      catch
        :error, _ -> fail(orig, bin, "number out of range")
      end

    # A VM whose binary_to_float reads a number past the double range as an
    # infinity (AtomVM's own; the runtime's raises badarg, as the BEAM's)
    # must still refuse it: nothing else compares beyond the largest double.
    if is_float(value) and (value > 1.7976931348623157e308 or value < -1.7976931348623157e308) do
      fail(orig, bin, "number out of range")
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
  #
  # Upstream AtomVM copies a literal (a binary such as "null", a constant
  # list) into a fresh heap fragment every time code loads it, and a fragment
  # forces a full garbage collection at the next allocation; our runtime
  # decodes literals once at boot (literal_cache.c), and on it the NIF
  # encodes anyway. So that this code stays cheap on any AtomVM, it uses no
  # literals per value: every piece of output is consed onto the tail of what
  # follows (`enc(term, tail)`), from integers and slices of the input.

  @doc """
  Encodes a term as JSON iodata. Maps (binary, atom or integer keys), lists,
  binaries (UTF-8), atoms, integers, floats, `nil`, `true` and `false` are
  supported; anything else raises `ElixirWorkers.Error`.
  """
  def encode_to_iodata(term) do
    case native_encode(term) do
      :fallback -> enc(term, [])
      bin -> bin
    end
  end

  @doc "Encodes a term as JSON iodata followed by `tail` (iodata)."
  def encode_onto(term, tail) do
    case native_encode(term) do
      :fallback -> enc(term, tail)
      bin -> [bin | tail]
    end
  end

  @doc "Encodes a term as a JSON binary."
  def encode(term) do
    case native_encode(term) do
      :fallback -> :erlang.iolist_to_binary(enc(term, []))
      bin -> bin
    end
  end

  @doc false
  # The Elixir encoder, whatever the VM (see elixir_decode/2).
  def elixir_encode(term), do: :erlang.iolist_to_binary(enc(term, []))

  # A binary, or :fallback where the NIF leaves the term to enc/2 (which
  # then also raises the errors).
  defp native_encode(term) do
    case ElixirWorkers.Runtime.vm() do
      :atomvm -> :wasi.json_encode(term)
      :beam -> :fallback
    end
  end

  defp enc(s, tail) when is_binary(s), do: [?" | escape_onto(s, [?" | tail])]
  defp enc(n, tail) when is_integer(n), do: [:erlang.integer_to_binary(n) | tail]
  defp enc(f, tail) when is_float(f), do: [float(f) | tail]
  defp enc(nil, tail), do: [?n, ?u, ?l, ?l | tail]
  defp enc(true, tail), do: [?t, ?r, ?u, ?e | tail]
  defp enc(false, tail), do: [?f, ?a, ?l, ?s, ?e | tail]
  defp enc(a, tail) when is_atom(a), do: enc(:erlang.atom_to_binary(a, :utf8), tail)
  defp enc([], tail), do: [?[, ?] | tail]
  defp enc([h | t], tail), do: [?[ | enc(h, list_rest(t, tail))]

  defp enc(m, tail) when is_map(m) do
    case :maps.to_list(m) do
      [] -> [?{, ?} | tail]
      [{k, v} | pairs] -> [?{ | key(k, [?: | enc(v, pairs_rest(pairs, tail))])]
    end
  end

  defp enc(other, _tail),
    do: :erlang.error(ElixirWorkers.Error.exception("cannot encode as JSON: " <> ElixirWorkers.Format.inspect(other)))

  defp list_rest([], tail), do: [?] | tail]
  defp list_rest([h | t], tail), do: [?, | enc(h, list_rest(t, tail))]
  defp list_rest(improper, _tail), do: enc({:improper_list_tail, improper}, [])

  defp pairs_rest([], tail), do: [?} | tail]
  defp pairs_rest([{k, v} | t], tail), do: [?, | key(k, [?: | enc(v, pairs_rest(t, tail))])]

  defp key(k, tail) when is_binary(k), do: [?" | escape_onto(k, [?" | tail])]
  defp key(k, tail) when is_atom(k), do: key(:erlang.atom_to_binary(k, :utf8), tail)
  defp key(k, tail) when is_integer(k), do: [?", :erlang.integer_to_binary(k), ?" | tail]

  defp key(other, _tail),
    do: :erlang.error(ElixirWorkers.Error.exception("cannot encode as a JSON key: " <> ElixirWorkers.Format.inspect(other)))

  defp float(f) do
    case :erlang.system_info(:machine) do
      [?B, ?E, ?A, ?M] -> :erlang.float_to_binary(f, [:short])
      # On AtomVM, the form the encoder NIF writes (json_encode.c), which this
      # code must match: the fewest significant digits that read back as
      # the same float, in scientific notation.
      _ -> shortest_float(f, 1)
    end
  end

  defp shortest_float(f, digits) do
    s = :erlang.float_to_binary(f, [{:scientific, digits}])

    if digits >= 16 or reads_back?(s, f) do
      s
    else
      shortest_float(f, digits + 1)
    end
  end

  # Too few digits can round past the largest double ("1.8e+308"), which
  # binary_to_float/1 refuses: that text does not read back either.
  defp reads_back?(s, f) do
    :erlang.binary_to_float(s) == f
  catch
    :error, :badarg -> false
  end

  @doc """
  Escapes a UTF-8 binary for use inside a JSON string (without the quotes).
  Returns the input itself when nothing needs escaping, else iodata. Raises
  `ElixirWorkers.Error` when the input is not valid UTF-8.
  """
  def escape(s) when is_binary(s), do: escape_onto(s, [])

  # The input itself when clean (one pass, no allocation), else the escaped
  # bytes; either way followed by `tail`.
  defp escape_onto(s, tail) do
    if clean?(s), do: [s | tail], else: escape_bytes(s, s, [], tail)
  end

  defp clean?(<<c, rest::binary>>) when c >= 0x20 and c != ?" and c != ?\\ and c < 0x80,
    do: clean?(rest)

  defp clean?(<<c, _::binary>>) when c < 0x80, do: false
  defp clean?(<<_cp::utf8, rest::binary>>), do: clean?(rest)
  defp clean?(<<>>), do: true
  defp clean?(_invalid), do: false

  # The escaped text as a reversed list of bytes (cons cells are what AtomVM
  # allocates cheapest); escapes are consed in reverse order too.
  defp escape_bytes(<<c, rest::binary>>, orig, acc, tail)
       when c >= 0x20 and c != ?" and c != ?\\ and c < 0x80,
       do: escape_bytes(rest, orig, [c | acc], tail)

  defp escape_bytes(<<?", rest::binary>>, orig, acc, tail),
    do: escape_bytes(rest, orig, [?", ?\\ | acc], tail)

  defp escape_bytes(<<?\\, rest::binary>>, orig, acc, tail),
    do: escape_bytes(rest, orig, [?\\, ?\\ | acc], tail)

  defp escape_bytes(<<?\n, rest::binary>>, orig, acc, tail),
    do: escape_bytes(rest, orig, [?n, ?\\ | acc], tail)

  defp escape_bytes(<<?\r, rest::binary>>, orig, acc, tail),
    do: escape_bytes(rest, orig, [?r, ?\\ | acc], tail)

  defp escape_bytes(<<?\t, rest::binary>>, orig, acc, tail),
    do: escape_bytes(rest, orig, [?t, ?\\ | acc], tail)

  defp escape_bytes(<<c, rest::binary>>, orig, acc, tail) when c < 0x20 do
    acc = [hex_digit(rem(c, 16)), hex_digit(div(c, 16)), ?0, ?0, ?u, ?\\ | acc]
    escape_bytes(rest, orig, acc, tail)
  end

  defp escape_bytes(<<cp::utf8, rest::binary>>, orig, acc, tail),
    do: escape_bytes(rest, orig, [<<cp::utf8>> | acc], tail)

  defp escape_bytes(<<>>, _orig, acc, tail), do: :lists.reverse(acc, tail)

  defp escape_bytes(rest, orig, _acc, _tail) do
    :erlang.error(
      ElixirWorkers.Error.exception(
        "invalid UTF-8 in JSON string at byte " <>
          :erlang.integer_to_binary(byte_size(orig) - byte_size(rest))
      )
    )
  end

  defp hex_digit(d) when d < 10, do: ?0 + d
  defp hex_digit(d), do: ?a + d - 10
end
