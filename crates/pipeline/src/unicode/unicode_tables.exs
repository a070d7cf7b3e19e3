# Makes ew_unicode.beam: ew_unicode.erl with the tables of the given
# unicode_util.beam appended as binaries (see ew_unicode.erl for the layout).
# Usage: elixir unicode_tables.exs UNICODE_UTIL_BEAM EW_UNICODE_ERL OUT_BEAM
#
# The tables are read out of unicode_util's code, not its source (OTP ships
# none): each table function is a `select_val` on its first argument whose
# branches load a constant, and a small evaluator of exactly those
# instructions runs the function on every value its code compares an
# argument with. Anything else in those functions stops the script, and so
# does any answer of the compiled ew_unicode that differs from the
# evaluator's: the build then ships OTP's module as it is.
defmodule UnicodeTables do
  def main([beam, erl, out]) do
    {:beam_file, :unicode_util, _, _, _, code} = :beam_disasm.file(String.to_charlist(beam))
    funs = Map.new(for {:function, name, arity, entry, is} <- code, do: {{name, arity}, {entry, is}})

    decomp = table(funs, {:unicode_table, 1})
    pairs = table(funs, {:compose_pair, 2})
    cases = table(funs, {:case_table, 1})

    {:ok, forms} = :epp.parse_file(String.to_charlist(erl), [])
    {forms, eof} = Enum.split(forms, -1)
    data = data_functions(decomp, pairs, cases)
    {:ok, :ew_unicode, binary} = :compile.forms(forms ++ data ++ eof, [:binary, :report_errors])
    {:module, :ew_unicode} = :code.load_binary(:ew_unicode, ~c"ew_unicode.erl", binary)
    check(:unicode_table, decomp)
    check(:compose_pair, pairs)
    check(:case_table, cases)
    File.write!(out, binary)
  end

  # Every argument tuple the function's code tells apart, with its answer,
  # and the answer for the arguments it does not (the default).
  defp table(funs, {name, arity} = key) do
    {entry, is} = Map.fetch!(funs, key)
    is = Enum.map(is, &select_map/1)
    labels = labels(is, %{})
    values = compared(is, arity)
    args = Enum.reduce(Enum.reverse(values), [[]], fn vs, acc -> for v <- vs, a <- acc, do: [v | a] end)
    answers = for a <- args, into: %{}, do: {a, eval(labels, entry, a)}
    %{name: name, answers: answers, default: fn a -> eval(labels, entry, a) end}
  end

  # A select_val's list as a map, looked up in constant time.
  defp select_map({:select_val, src, fail, {:list, list}}) do
    map = list |> Enum.chunk_every(2) |> Map.new(fn [value, {:f, to}] -> {get(value, %{}), to} end)
    {:select_val, src, fail, {:list, list}, map}
  end

  defp select_map(i), do: i

  defp labels([{:label, l} | rest] = is, acc), do: labels(rest, Map.put(acc, l, is))
  defp labels([_ | rest], acc), do: labels(rest, acc)
  defp labels([], acc), do: acc

  # For each argument register, the integers the code compares it with.
  defp compared(is, arity) do
    for x <- 0..(arity - 1) do
      is
      |> Enum.flat_map(fn
        {:select_val, src, _, {:list, list}, _} ->
          if reg(src) == {:x, x}, do: for({:integer, v} <- list, do: v), else: []

        {:test, :is_eq_exact, _, [src, {:integer, v}]} ->
          if reg(src) == {:x, x}, do: [v], else: []

        _ ->
          []
      end)
      |> Enum.uniq()
      |> Enum.sort()
    end
  end

  defp reg({:tr, r, _}), do: r
  defp reg(r), do: r

  defp eval(labels, entry, args) do
    regs = args |> Enum.with_index() |> Map.new(fn {v, i} -> {i, v} end)
    exec(Map.fetch!(labels, entry), regs, labels)
  end

  defp exec([{:label, _} | rest], r, l), do: exec(rest, r, l)
  defp exec([{:line, _} | rest], r, l), do: exec(rest, r, l)
  defp exec([{:test_heap, _, _} | rest], r, l), do: exec(rest, r, l)
  defp exec([{:jump, {:f, to}} | _], r, l), do: exec(Map.fetch!(l, to), r, l)
  defp exec([:return | _], r, _), do: Map.fetch!(r, 0)

  defp exec([{:move, src, {:x, x}} | rest], r, l),
    do: exec(rest, Map.put(r, x, get(src, r)), l)

  defp exec([{:put_tuple2, {:x, x}, {:list, elements}} | rest], r, l) do
    tuple = elements |> Enum.map(&get(&1, r)) |> List.to_tuple()
    exec(rest, Map.put(r, x, tuple), l)
  end

  defp exec([{:select_val, src, {:f, fail}, _, map} | _], r, l) do
    exec(Map.fetch!(l, Map.get(map, get(src, r), fail)), r, l)
  end

  defp exec([{:test, :is_eq_exact, {:f, fail}, [a, b]} | rest], r, l) do
    if get(a, r) === get(b, r), do: exec(rest, r, l), else: exec(Map.fetch!(l, fail), r, l)
  end

  defp exec([other | _], _, _), do: raise("unexpected instruction #{inspect(other)}")

  defp get({:x, x}, r), do: Map.fetch!(r, x)
  defp get({:tr, reg, _}, r), do: get(reg, r)
  defp get({:integer, v}, _), do: v
  defp get({:atom, a}, _), do: a
  defp get({:literal, t}, _), do: t
  defp get(nil, _), do: []

  defp data_functions(decomp, pairs, cases) do
    no_decomposition = {0, [], []}
    check_default!(decomp, fn _ -> no_decomposition end)
    entries = Enum.sort(for {[cp], v} <- decomp.answers, v != no_decomposition, do: {cp, v})
    ccc = for {cp, {c, _, _}} <- entries, c != 0, into: %{}, do: {cp, c}
    class = fn cp -> Map.get(ccc, cp, 0) end

    code_points = fn list ->
      Enum.map(list, fn {c, cp} ->
        c == class.(cp) or raise "#{cp}'s class in a decomposition is not its own"
        cp
      end)
    end

    {canon, canon_data} =
      indexed(for {cp, {_, [_ | _] = l, _}} <- entries, do: {cp, decomposition(code_points.(l))})

    tags =
      entries
      |> Enum.flat_map(fn {_, {_, _, c}} -> if is_tuple(c), do: [elem(c, 0)], else: [] end)
      |> Enum.uniq()
      |> Enum.sort()

    compat_entries =
      for {cp, {_, _, {tag, l}}} <- entries,
          do: {cp, Enum.find_index(tags, &(&1 == tag)), code_points.(l)}

    {runs, singles} = compat_runs(compat_entries)

    runs_bin =
      for [{start, tag, [target]} | _] = run <- runs,
          into: "",
          do: <<start::24, length(run)::16, tag::8, target::24>>

    {compat, compat_data} =
      indexed(for {cp, tag, cps} <- List.flatten(singles), do: {cp, [<<tag::8>>, decomposition(cps)]})

    check_default!(pairs, fn _ -> false end)
    pair_bin = for {[a, b], c} <- Enum.sort(pairs.answers), c != false, into: "", do: <<a::24, b::24, c::24>>

    case_entries = Enum.sort(for {[cp], v} <- cases.answers, v != {cp, cp}, do: {cp, v})
    check_default!(cases, fn [cp] -> {cp, cp} end)

    code_point? = &(is_integer(&1) and &1 in 0..0xFFFFFF)
    {plain, other} = Enum.split_with(case_entries, fn {_, v} -> Enum.all?(Tuple.to_list(v), code_point?) end)
    cases2 = for {cp, {u, lo}} <- plain, into: "", do: <<cp::24, u::24, lo::24>>
    cases4 = for {cp, {u, lo, t, f}} <- plain, into: "", do: <<cp::24, u::24, lo::24, t::24, f::24>>
    length(plain) == div(byte_size(cases2), 9) + div(byte_size(cases4), 15) or
      raise "case_table has answers that are not tuples of two or four"
    {cases_other, cases_other_data} = indexed(
        for {cp, v} <- other do
          term = :erlang.term_to_binary(v)
          {cp, <<byte_size(term)::16, term::binary>>}
        end
      )

    ccc_bin = for {cp, c} <- Enum.sort(ccc), into: "", do: <<cp::24, c::8>>

    [
      data(:ccc, ccc_bin),
      data(:canon, canon),
      data(:canon_data, canon_data),
      data(:compat, compat),
      data(:compat_data, compat_data),
      data(:compat_tags, List.to_tuple(tags)),
      data(:compat_runs, runs_bin),
      data(:pairs, pair_bin),
      data(:cases2, cases2),
      data(:cases4, cases4),
      data(:cases_other, cases_other),
      data(:cases_other_data, cases_other_data)
    ]
  end

  # Runs of three or more code points in a row, each decomposing to one
  # code point with the same tag, the targets in a row too (the
  # mathematical alphanumerics, fullwidth forms, ...), and the other entries.
  defp compat_runs(entries) do
    entries
    |> Enum.chunk_while(
      [],
      fn
        {cp, tag, [t]} = e, [{prev, tag, [pt]} | _] = run when cp == prev + 1 and t == pt + 1 ->
          {:cont, [e | run]}

        e, [] ->
          {:cont, [e]}

        e, run ->
          {:cont, Enum.reverse(run), [e]}
      end,
      fn
        [] -> {:cont, []}
        run -> {:cont, Enum.reverse(run), []}
      end
    )
    |> Enum.split_with(&match?([{_, _, [_]}, _, _ | _], &1))
  end

  defp decomposition(cps) when length(cps) < 256,
    do: [<<length(cps)::8>> | for(cp <- cps, do: <<cp::24>>)]

  # An index of <<Key:24, Offset:16>> into the data made of the entries.
  defp indexed(entries) do
    {index, data, _} =
      Enum.reduce(entries, {[], [], 0}, fn {cp, bytes}, {index, data, at} ->
        at < 65536 or raise "a table past 64 KB"
        {[<<cp::24, at::16>> | index], [bytes | data], at + IO.iodata_length(bytes)}
      end)

    {IO.iodata_to_binary(Enum.reverse(index)), IO.iodata_to_binary(Enum.reverse(data))}
  end

  # What the function answers for arguments no clause compares with.
  defp check_default!(table, expected) do
    arity = table.answers |> Map.keys() |> hd() |> length()
    outside = List.duplicate(0x10FFFF + 1, arity)
    table.default.(outside) === expected.(outside) or raise "#{table.name}'s default is not the expected one"
  end

  defp data(name, term) do
    {:function, 0, name, 0, [{:clause, 0, [], [], [:erl_parse.abstract(term)]}]}
  end

  defp check(name, table) do
    for {args, expected} <- table.answers do
      got = apply(:ew_unicode, name, args)
      got === expected or raise "ew_unicode:#{name}#{inspect(args)} is #{inspect(got)}, not #{inspect(expected)}"
    end

    arity = table.answers |> Map.keys() |> hd() |> length()
    for probe <- [0, 0x41, 0x3000, 0x10FFFF] do
      args = List.duplicate(probe, arity)
      got = apply(:ew_unicode, name, args)
      got === table.default.(args) or raise "ew_unicode:#{name}#{inspect(args)} is #{inspect(got)}"
    end
  end
end

UnicodeTables.main(System.argv())
