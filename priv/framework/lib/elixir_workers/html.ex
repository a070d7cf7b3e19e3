defmodule ElixirWorkers.HTML do
  @moduledoc """
  HTML helpers: escaping and tags. Everything returns iodata, which
  `ElixirWorkers.Conn.html/3` sends without copying.
  """

  @doc """
  Escapes `& < > " '` in text (binaries, atoms and numbers are accepted).
  Returns iodata of slices of the input.
  """
  def escape(s) when is_binary(s) do
    case :binary.match(s, ["&", "<", ">", "\"", "'"]) do
      :nomatch -> s
      _ -> esc(s, s, 0, 0, [])
    end
  end

  def escape(a) when is_atom(a), do: escape(:erlang.atom_to_binary(a, :utf8))
  def escape(i) when is_integer(i), do: :erlang.integer_to_binary(i)
  def escape(f) when is_float(f), do: :erlang.float_to_binary(f, [{:decimals, 10}, :compact])

  @doc "Escapes to a binary."
  def escape_to_binary(s), do: :erlang.iolist_to_binary(escape(s))

  defp esc(<<c, rest::binary>>, orig, skip, len, acc)
       when c == ?& or c == ?< or c == ?> or c == ?" or c == ?' do
    esc(rest, orig, skip + len + 1, 0, [acc, :binary.part(orig, skip, len), entity(c)])
  end

  defp esc(<<_, rest::binary>>, orig, skip, len, acc), do: esc(rest, orig, skip, len + 1, acc)
  defp esc(<<>>, orig, skip, len, acc), do: [acc, :binary.part(orig, skip, len)]

  defp entity(?&), do: "&amp;"
  defp entity(?<), do: "&lt;"
  defp entity(?>), do: "&gt;"
  defp entity(?"), do: "&quot;"
  defp entity(?'), do: "&#39;"

  @doc """
  `<name attrs>content</name>`. `attrs` is a map or keyword/pair list whose
  values are escaped; `content` is iodata inserted as is (escape text yourself
  with `escape/1`).
  """
  def tag(name, attrs \\ [], content), do: ["<", name, attrs(attrs), ">", content, "</", name, ">"]

  @doc "A void element: `<name attrs>`."
  def void_tag(name, attrs \\ []), do: ["<", name, attrs(attrs), ">"]

  @doc "Maps `fun` over `list` and returns the iodata of the results."
  def each(list, fun) when is_list(list), do: :lists.map(fun, list)

  defp attrs(m) when is_map(m), do: attrs(:maps.to_list(m))
  defp attrs([]), do: []
  defp attrs([{_k, false} | rest]), do: attrs(rest)
  defp attrs([{_k, nil} | rest]), do: attrs(rest)
  defp attrs([{k, true} | rest]), do: [" ", name(k) | attrs(rest)]
  defp attrs([{k, v} | rest]), do: [" ", name(k), "=\"", escape(v), "\"" | attrs(rest)]

  defp name(k) when is_atom(k), do: :erlang.atom_to_binary(k, :utf8)
  defp name(k) when is_binary(k), do: k
end
