defmodule ElixirWorkers.HTML do
  @moduledoc """
  HTML helpers: escaping and tags. Everything returns iodata, which
  `ElixirWorkers.Conn.html/3` sends without copying.

  On AtomVM `escape/1` of a binary runs in a C NIF of the WASI adapter
  (`:wasi.html_escape/1`) with the same output.
  """

  # :wasi exists only inside the AtomVM WASI runtime.
  @compile {:no_warn_undefined, :wasi}

  # Like the JSON encoder, this avoids literals in anything that runs per
  # character or per tag: upstream AtomVM copies a literal into a heap
  # fragment on every load, which costs a garbage collection soon after. (Our
  # runtime decodes every literal once at boot, literal_cache.c, so there it
  # makes no difference; the code stays cheap on either.)

  @doc """
  Escapes `& < > " '` in text (binaries, atoms and numbers are accepted).
  Returns the input itself when nothing needs escaping, else iodata.
  """
  def escape(s) when is_binary(s) do
    case ElixirWorkers.Runtime.vm() do
      # The adapter's C loop (crates/runtime/atomvm-wasi/src/html_escape.c): the same
      # bytes as below, as one binary.
      :atomvm -> :wasi.html_escape(s)
      :beam -> elixir_escape(s)
    end
  end

  def escape(a) when is_atom(a), do: escape(:erlang.atom_to_binary(a, :utf8))
  def escape(i) when is_integer(i), do: :erlang.integer_to_binary(i)
  def escape(f) when is_float(f), do: :erlang.float_to_binary(f, [{:decimals, 10}, :compact])

  @doc false
  # The Elixir escaper, whatever the VM: the reference for the NIF's tests.
  def elixir_escape(s) when is_binary(s) do
    if clean?(s), do: s, else: esc(s, [])
  end

  @doc "Escapes to a binary."
  def escape_to_binary(s), do: :erlang.iolist_to_binary(escape(s))

  defp clean?(<<c, _::binary>>) when c == ?& or c == ?< or c == ?> or c == ?" or c == ?',
    do: false

  defp clean?(<<_, rest::binary>>), do: clean?(rest)
  defp clean?(<<>>), do: true

  # A reversed list of bytes; entities are consed in reverse.
  defp esc(<<?&, rest::binary>>, acc), do: esc(rest, [?;, ?p, ?m, ?a, ?& | acc])
  defp esc(<<?<, rest::binary>>, acc), do: esc(rest, [?;, ?t, ?l, ?& | acc])
  defp esc(<<?>, rest::binary>>, acc), do: esc(rest, [?;, ?t, ?g, ?& | acc])
  defp esc(<<?", rest::binary>>, acc), do: esc(rest, [?;, ?t, ?o, ?u, ?q, ?& | acc])
  defp esc(<<?', rest::binary>>, acc), do: esc(rest, [?;, ?9, ?3, ?#, ?& | acc])
  defp esc(<<c, rest::binary>>, acc), do: esc(rest, [c | acc])
  defp esc(<<>>, acc), do: :lists.reverse(acc)

  @doc """
  `<name attrs>content</name>`. `attrs` is a map or keyword/pair list whose
  values are escaped; `content` is iodata inserted as is (escape text yourself
  with `escape/1`).
  """
  def tag(name, attrs \\ [], content),
    do: [?<, name | attrs(attrs, [?>, content, ?<, ?/, name, ?>])]

  @doc "A void element: `<name attrs>`."
  def void_tag(name, attrs \\ []), do: [?<, name | attrs(attrs, [?>])]

  @doc "Maps `fun` over `list` and returns the iodata of the results."
  def each(list, fun) when is_list(list), do: :lists.map(fun, list)

  defp attrs(m, tail) when is_map(m), do: attrs(:maps.to_list(m), tail)
  defp attrs([], tail), do: tail
  defp attrs([{_k, false} | rest], tail), do: attrs(rest, tail)
  defp attrs([{_k, nil} | rest], tail), do: attrs(rest, tail)
  defp attrs([{k, true} | rest], tail), do: [?\s, name(k) | attrs(rest, tail)]
  defp attrs([{k, v} | rest], tail), do: [?\s, name(k), ?=, ?", escape(v), ?" | attrs(rest, tail)]

  defp name(k) when is_atom(k), do: :erlang.atom_to_binary(k, :utf8)
  defp name(k) when is_binary(k), do: k
end
