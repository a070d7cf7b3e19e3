defmodule ElixirWorkers.URL do
  @moduledoc """
  URL helpers: splitting the request target into path and query string,
  path segments, query-string and form decoding, percent-decoding and
  -encoding. Splitting uses `:binary.split/3` (C code on both VMs), so only
  escapes cost per-byte work.
  """

  @doc """
  Splits a request target into `{path, query_string}`.

      iex> ElixirWorkers.URL.split_target("/a/b?x=1")
      {"/a/b", "x=1"}
  """
  def split_target(target) when is_binary(target) do
    case :binary.split(target, "?") do
      [path, qs] -> {path, qs}
      [path] -> {path, ""}
    end
  end

  @doc """
  Splits a path into percent-decoded segments, dropping empty ones:
  `"/users//42/"` gives `["users", "42"]`.
  """
  def segments(path) when is_binary(path) do
    segments_acc(:binary.split(path, "/", [:global]), [])
  end

  defp segments_acc([], acc), do: :lists.reverse(acc)
  defp segments_acc(["" | rest], acc), do: segments_acc(rest, acc)
  defp segments_acc([seg | rest], acc), do: segments_acc(rest, [decode_segment(seg) | acc])

  defp decode_segment(seg) do
    case :binary.match(seg, "%") do
      :nomatch -> seg
      _ -> percent_decode(seg, false)
    end
  end

  @doc """
  Decodes an `application/x-www-form-urlencoded` string (a query string or a
  form body) into a map. `+` means space; a key without `=` maps to `""`; a
  repeated key keeps its last value.
  """
  def decode_query(""), do: %{}

  def decode_query(qs) when is_binary(qs) do
    pairs(:binary.split(qs, "&", [:global]), %{})
  end

  defp pairs([], acc), do: acc
  defp pairs(["" | rest], acc), do: pairs(rest, acc)

  defp pairs([pair | rest], acc) do
    case :binary.split(pair, "=") do
      [k, v] -> pairs(rest, :maps.put(form_decode(k), form_decode(v), acc))
      [k] -> pairs(rest, :maps.put(form_decode(k), "", acc))
    end
  end

  defp form_decode(s) do
    case :binary.match(s, ["%", "+"]) do
      :nomatch -> s
      _ -> percent_decode(s, true)
    end
  end

  @doc """
  Percent-decodes a binary. A `%` not followed by two hex digits is kept as
  is. With `plus_as_space`, `+` decodes to a space (form encoding).
  """
  def percent_decode(s, plus_as_space \\ false) when is_binary(s) do
    :erlang.iolist_to_binary(pd(s, s, 0, 0, plus_as_space, []))
  end

  defp pd(<<?%, a, b, rest::binary>>, orig, skip, len, plus, acc) do
    case {hex(a), hex(b)} do
      {h, l} when h >= 0 and l >= 0 ->
        acc = [acc, :binary.part(orig, skip, len), h * 16 + l]
        pd(rest, orig, skip + len + 3, 0, plus, acc)

      _ ->
        <<_, rest::binary>> = <<?%, a, b, rest::binary>>
        pd(rest, orig, skip, len + 1, plus, acc)
    end
  end

  defp pd(<<?+, rest::binary>>, orig, skip, len, true, acc) do
    pd(rest, orig, skip + len + 1, 0, true, [acc, :binary.part(orig, skip, len), ?\s])
  end

  defp pd(<<_, rest::binary>>, orig, skip, len, plus, acc),
    do: pd(rest, orig, skip, len + 1, plus, acc)

  defp pd(<<>>, orig, skip, len, _plus, acc), do: [acc, :binary.part(orig, skip, len)]

  defp hex(c) when c >= ?0 and c <= ?9, do: c - ?0
  defp hex(c) when c >= ?a and c <= ?f, do: c - ?a + 10
  defp hex(c) when c >= ?A and c <= ?F, do: c - ?A + 10
  defp hex(_), do: -1

  @doc """
  Percent-encodes everything except the unreserved characters of RFC 3986
  (`A-Z a-z 0-9 - . _ ~`).
  """
  def encode(s) when is_binary(s), do: :erlang.iolist_to_binary(pe(s, []))

  defp pe(<<c, rest::binary>>, acc)
       when (c >= ?a and c <= ?z) or (c >= ?A and c <= ?Z) or (c >= ?0 and c <= ?9) or
              c == ?- or c == ?. or c == ?_ or c == ?~,
       do: pe(rest, [acc, c])

  defp pe(<<c, rest::binary>>, acc), do: pe(rest, [acc, ?%, hexu(div(c, 16)), hexu(rem(c, 16))])
  defp pe(<<>>, acc), do: acc

  defp hexu(d) when d < 10, do: ?0 + d
  defp hexu(d), do: ?A + d - 10

  @doc """
  Encodes a map (or key/value list) as a query string.
  """
  def encode_query(params) when is_map(params), do: encode_query(:maps.to_list(params))

  def encode_query(pairs) when is_list(pairs) do
    :erlang.iolist_to_binary(join_pairs(pairs))
  end

  defp join_pairs([]), do: []
  defp join_pairs([{k, v}]), do: [encode(to_bin(k)), ?=, encode(to_bin(v))]
  defp join_pairs([{k, v} | rest]), do: [encode(to_bin(k)), ?=, encode(to_bin(v)), ?& | join_pairs(rest)]

  defp to_bin(b) when is_binary(b), do: b
  defp to_bin(a) when is_atom(a), do: :erlang.atom_to_binary(a, :utf8)
  defp to_bin(i) when is_integer(i), do: :erlang.integer_to_binary(i)

  @doc """
  Matches path segments against a compiled route pattern: a list of literal
  binaries, `{:param, name}` and, last, `{:glob, name}`. Returns
  `{:ok, params}` or `:no_match`.
  """
  def match_segments(segments, pattern), do: match(segments, pattern, %{})

  defp match([], [], params), do: {:ok, params}
  defp match(rest, [{:glob, name}], params), do: {:ok, :maps.put(name, rest, params)}
  defp match([seg | rest], [{:param, name} | pat], params), do: match(rest, pat, :maps.put(name, seg, params))
  defp match([seg | rest], [seg | pat], params), do: match(rest, pat, params)
  defp match(_, _, _), do: :no_match
end
