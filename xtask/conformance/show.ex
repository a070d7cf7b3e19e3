# Copied into every conformance project by `cargo xtask conformance`: a short,
# Elixir-looking text for any term, made from erlang BIFs only so that it
# works where `inspect/1` does not. Deep or long terms are cut with "...".
defmodule Conf.Show do
  @moduledoc false

  @max_bytes 240
  @max_depth 6
  @max_items 12

  def term(term) do
    text =
      try do
        :erlang.iolist_to_binary(show(term, @max_depth))
      catch
        _, _ -> "<term that could not be shown>"
      end

    if byte_size(text) > @max_bytes, do: binary_part(text, 0, @max_bytes) <> "...", else: text
  end

  # A module name as Elixir writes it: `String`, `:lists`.
  def module(nil), do: nil

  def module(atom) when is_atom(atom) do
    case :erlang.atom_to_binary(atom, :utf8) do
      "Elixir." <> name -> name
      name -> ":" <> name
    end
  end

  defp show(_term, 0), do: "..."
  defp show(int, _) when is_integer(int), do: :erlang.integer_to_binary(int)
  defp show(float, _) when is_float(float), do: float(float)
  defp show(atom, _) when atom in [nil, true, false], do: :erlang.atom_to_binary(atom, :utf8)
  defp show(atom, _) when is_atom(atom), do: module(atom)
  defp show(bin, _) when is_binary(bin), do: binary(bin)
  defp show(bits, _) when is_bitstring(bits), do: "<<bitstring>>"
  defp show(list, depth) when is_list(list), do: ["[", items(list, depth, @max_items), "]"]

  defp show(tuple, depth) when is_tuple(tuple),
    do: ["{", items(:erlang.tuple_to_list(tuple), depth, @max_items), "}"]

  defp show(%{__struct__: struct} = map, depth) when is_atom(struct) do
    fields = :maps.to_list(:maps.remove(:__struct__, map))
    ["%", module(struct), "{", pairs(fields, depth, @max_items), "}"]
  end

  defp show(map, depth) when is_map(map),
    do: ["%{", pairs(:maps.to_list(map), depth, @max_items), "}"]

  defp show(fun, _) when is_function(fun), do: "#Function<>"
  defp show(pid, _) when is_pid(pid), do: "#PID<>"
  defp show(ref, _) when is_reference(ref), do: "#Reference<>"
  defp show(_other, _), do: "#Port<>"

  defp items([], _depth, _left), do: []
  defp items(_list, _depth, 0), do: ["..."]
  defp items([last], depth, _left), do: [show(last, depth - 1)]

  defp items([head | tail], depth, left) when is_list(tail),
    do: [show(head, depth - 1), ", " | items(tail, depth, left - 1)]

  defp items([head | tail], depth, _left),
    do: [show(head, depth - 1), " | ", show(tail, depth - 1)]

  defp pairs([], _depth, _left), do: []
  defp pairs(_pairs, _depth, 0), do: ["..."]

  defp pairs([{k, v} | rest], depth, left) do
    pair = [show(k, depth - 1), " => ", show(v, depth - 1)]
    if rest == [], do: [pair], else: [pair, ", " | pairs(rest, depth, left - 1)]
  end

  defp float(float) do
    try do
      :erlang.float_to_binary(float, [:short])
    catch
      _, _ -> :erlang.float_to_binary(float, [{:decimals, 17}, :compact])
    end
  end

  # Printable UTF-8 in quotes, anything else as bytes.
  defp binary(bin) do
    if printable?(bin) do
      ["\"", escape(bin), "\""]
    else
      ["<<", bytes(bin), ">>"]
    end
  end

  defp bytes(<<byte>>), do: [:erlang.integer_to_binary(byte)]
  defp bytes(<<byte, rest::binary>>), do: [:erlang.integer_to_binary(byte), ", " | bytes(rest)]

  defp printable?(<<c::utf8, rest::binary>>) when c >= 0x20 and c != 0x7F, do: printable?(rest)
  defp printable?(<<?\n, rest::binary>>), do: printable?(rest)
  defp printable?(<<>>), do: true
  defp printable?(_), do: false

  defp escape(bin) do
    for <<c::utf8 <- bin>> do
      case c do
        ?" -> "\\\""
        ?\\ -> "\\\\"
        ?\n -> "\\n"
        c -> <<c::utf8>>
      end
    end
  end
end
