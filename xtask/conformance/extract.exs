# Extracts the doctests of Elixir's own standard library and runs them on the
# BEAM, for `cargo xtask conformance` (xtask/src/conformance.rs).
#
#   elixir extract.exs OUT_DIR Module1,Module2,...
#
# For every listed module it reads the docs chunk (`Code.fetch_docs/1`), parses
# the `iex>` examples of the moduledoc and of every function and macro doc
# (Kernel: functions only), compiles each assertion as the body of a function,
# calls it on the BEAM and compares the answer with the expected output. It
# writes:
#
#   OUT_DIR/extract.json                  every assertion with its status
#   OUT_DIR/src/<Module>/conf_tests.ex    `Conf.Tests`: the assertions that
#                                         pass on the BEAM, for the runtime
#
# Parsing follows the rules ExUnit.DocTest documents: a test starts at an
# `iex>` prompt and ends at a blank line; an expression is the prompt line
# plus its `...>` (or further `iex>`) lines; the lines after it, up to the
# next prompt or the blank line, are its expected output. One test can hold
# several expressions, and bindings flow from one to the next. Each
# expression with an expected output is one assertion here: its function body
# is the test's earlier expressions (except those expected to raise) followed
# by its own. A value is compared with `===`; an expected exception by its
# module only (ExUnit also compares the message).
#
# Skipped, with the reason recorded: expected output that is not Elixir code
# or an inspect form (`#Name<...>`), expressions that need what a worker never
# has (IO, File, processes, ...), define a module, or do not compile as a
# function body, and expected values holding functions, pids or references.
# A body the compiler folds into a constant is marked `constant`.

defmodule Conformance.Json do
  # Elixir 1.14 ships no JSON encoder; this one covers the values written here.
  def encode(nil), do: "null"
  def encode(true), do: "true"
  def encode(false), do: "false"
  def encode(n) when is_integer(n), do: Integer.to_string(n)
  def encode(s) when is_binary(s), do: [?", escape(s, []), ?"]
  def encode(a) when is_atom(a), do: encode(Atom.to_string(a))
  def encode(list) when is_list(list), do: [?[, Enum.map_intersperse(list, ?,, &encode/1), ?]]

  def encode(map) when is_map(map) do
    pairs = Enum.map_intersperse(map, ?,, fn {k, v} -> [encode(to_string(k)), ?:, encode(v)] end)
    [?{, pairs, ?}]
  end

  defp escape(<<>>, acc), do: Enum.reverse(acc)
  defp escape(<<?", rest::binary>>, acc), do: escape(rest, ["\\\"" | acc])
  defp escape(<<?\\, rest::binary>>, acc), do: escape(rest, ["\\\\" | acc])
  defp escape(<<?\n, rest::binary>>, acc), do: escape(rest, ["\\n" | acc])

  defp escape(<<c, rest::binary>>, acc) when c < 0x20 do
    hex = c |> Integer.to_string(16) |> String.pad_leading(4, "0")
    escape(rest, ["\\u" <> hex | acc])
  end

  defp escape(<<c::utf8, rest::binary>>, acc), do: escape(rest, [<<c::utf8>> | acc])
  # Not UTF-8: the replacement character keeps the document valid JSON.
  defp escape(<<_, rest::binary>>, acc), do: escape(rest, ["\uFFFD" | acc])
end

defmodule Conformance.Parse do
  @prompt ~r/^(\s*)iex(?:\(\d+\))?>\s?(.*)$/
  @continuation ~r/^\s*\.\.\.(?:\(\d+\))?>\s?(.*)$/

  @doc """
  The tests of one doc text: a list of tests, each a list of
  `{expression, expected}` in order, `expected` being nil for an expression
  whose output is not checked.
  """
  def tests(text) do
    {tests, open} =
      text
      |> String.split(["\r\n", "\n"])
      |> Enum.reduce({[], nil}, &line/2)

    Enum.reverse(close(open, tests))
  end

  # `open` is nil between tests, else %{indent, done, expr, expected} with
  # the lines of the current expression and of its expected output reversed.
  defp line(text, {tests, open}) do
    cond do
      match = Regex.run(@prompt, text) ->
        [_, indent, code] = match

        case open do
          nil ->
            {tests, %{indent: String.length(indent), done: [], expr: [code], expected: []}}

          %{expected: []} ->
            {tests, %{open | expr: [code | open.expr]}}

          _ ->
            {tests, %{open | done: [pair(open) | open.done], expr: [code], expected: []}}
        end

      open != nil and open.expected == [] and Regex.match?(@continuation, text) ->
        [_, code] = Regex.run(@continuation, text)
        {tests, %{open | expr: [code | open.expr]}}

      # A blank line ends a test; so does the fence of a Markdown code block.
      String.trim(text) == "" or String.starts_with?(String.trim(text), "```") ->
        {close(open, tests), nil}

      open != nil ->
        {tests, %{open | expected: [dedent(text, open.indent) | open.expected]}}

      true ->
        {tests, nil}
    end
  end

  defp close(nil, tests), do: tests
  defp close(open, tests), do: [Enum.reverse([pair(open) | open.done]) | tests]

  defp pair(%{expr: expr, expected: expected}) do
    expr = expr |> Enum.reverse() |> Enum.join("\n")

    case expected do
      [] -> {expr, nil}
      lines -> {expr, lines |> Enum.reverse() |> Enum.join("\n")}
    end
  end

  # Expected output continues at the prompt's column; deeper lines keep the
  # rest of their indentation.
  defp dedent(text, indent) do
    {lead, rest} = String.split_at(text, indent)
    if String.trim(lead) == "", do: rest, else: String.trim_leading(text)
  end
end

defmodule Conformance.Extract do
  alias Conformance.{Json, Parse}

  # Calls that need what a worker never has: processes and messages, the
  # file system, the OS, the compiler at run time.
  @impossible_modules ~w(IO File Process System Node Code Port Task Agent GenServer Application)a
  @impossible_erlang ~w(os io file ets erlang_node init)a
  @impossible_locals ~w(spawn spawn_link spawn_monitor send self make_ref node receive)a
  # IO functions that only transform data.
  @pure_io ~w(iodata_to_binary iodata_length chardata_to_string)a
  @beam_timeout_ms 5_000
  # Modules whose doctests call their functions unqualified (`band(9, 3)`);
  # Elixir's own test suite imports them for their doctests.
  @imported [Bitwise]

  def main([out, modules]) do
    Application.ensure_all_started(:ex_unit)
    Code.put_compiler_option(:ignore_module_conflict, true)

    modules =
      modules
      |> String.split(",", trim: true)
      |> Enum.map(&Module.concat([&1]))

    results = Enum.map(modules, &module(&1, out))
    File.write!(Path.join(out, "extract.json"), Json.encode(%{"modules" => results}))
  end

  def main(_) do
    IO.puts(:stderr, "usage: elixir extract.exs OUT_DIR Module1,Module2,...")
    System.halt(2)
  end

  defp module(mod, out) do
    name = inspect(mod)

    units =
      case Code.fetch_docs(mod) do
        {:docs_v1, _, _, _, moduledoc, _, docs} ->
          module_tests = if mod == Kernel, do: [], else: [{"#{name} (moduledoc)", moduledoc}]

          function_tests =
            for {{kind, fun, arity}, _, _, doc, _} <- docs,
                kind in [:function, :macro],
                mod != Kernel or kind == :function,
                do: {"#{name}.#{fun}/#{arity}", doc}

          (module_tests ++ function_tests)
          |> Enum.flat_map(fn {where, doc} -> assertions(where, doc) end)
          |> Enum.with_index(1)
          |> Enum.map(fn {unit, id} -> unit |> Map.put("id", id) |> Map.put("module", name) end)
          |> Enum.map(&check(&1, mod))

        {:error, reason} ->
          raise "#{name} has no docs to take doctests from: #{inspect(reason)}"
      end

    kept = Enum.filter(units, &(&1["status"] == "kept"))
    dir = Path.join([out, "src", name])
    File.mkdir_p!(dir)
    File.write!(Path.join(dir, "conf_tests.ex"), source(mod, kept))
    %{"module" => name, "units" => Enum.map(units, &Map.delete(&1, "value"))}
  end

  # Every assertion of one doc: the test's earlier expressions become its
  # prefix, so their bindings (and imports, aliases) are in scope.
  defp assertions(where, %{"en" => text}) do
    for test <- Parse.tests(text),
        {{expr, expected}, k} <- Enum.with_index(test),
        expected != nil do
      prefix =
        test
        |> Enum.take(k)
        |> Enum.reject(fn {_, exp} -> exp != nil and raise_expected?(exp) end)
        |> Enum.map(&elem(&1, 0))

      %{"doc" => where, "prefix" => prefix, "expr" => expr, "expected" => expected}
    end
  end

  defp assertions(_where, _no_doc), do: []

  defp raise_expected?(expected), do: String.starts_with?(expected, "** (")

  # Decides one assertion: skipped (with a reason), failing on the BEAM, or kept.
  defp check(unit, mod) do
    with {:ok, expect} <- expectation(unit["expected"]),
         {:ok, body} <- body(unit),
         :ok <- possible(body),
         {:ok, expect} <- literal(expect, unit["expected"]),
         {:ok, probe, constant} <- compile(unit, mod) do
      unit = unit |> Map.merge(expect) |> Map.put("constant", constant)

      case beam(probe, expect) do
        :pass -> Map.put(unit, "status", "kept")
        {:fail, text} -> Map.merge(unit, %{"status" => "beam_fail", "reason" => text})
      end
    else
      {:skip, reason} ->
        Map.merge(unit, %{"status" => "skipped", "reason" => reason})

      {:skip, reason, detail} ->
        Map.merge(unit, %{"status" => "skipped", "reason" => reason, "detail" => detail})
    end
  end

  defp expectation(expected) do
    cond do
      match = Regex.run(~r/\A\*\* \(([A-Za-z_][\w.]*)\)/, expected) ->
        {:ok, %{"expect" => "raise", "exception" => Enum.at(match, 1)}}

      Regex.match?(~r/\A#[A-Z][\w.]*</, expected) ->
        {:skip, "expected output is an inspect form (#Name<...>)"}

      true ->
        case Code.string_to_quoted(expected) do
          {:ok, _} -> {:ok, %{"expect" => "value"}}
          {:error, _} -> {:skip, "expected output is not Elixir code"}
        end
    end
  end

  defp body(unit) do
    code = Enum.join(unit["prefix"] ++ [unit["expr"]], "\n")

    case Code.string_to_quoted(code) do
      {:ok, ast} -> {:ok, ast}
      {:error, _} -> {:skip, "expression does not parse"}
    end
  end

  # A reason when the expression needs what a worker never has.
  defp possible(ast) do
    {_, reasons} = Macro.prewalk(ast, [], fn node, acc -> {node, impossible(node) ++ acc} end)

    case reasons do
      [] -> :ok
      reasons -> {:skip, reasons |> Enum.sort() |> hd()}
    end
  end

  defp impossible({:defmodule, _, _}), do: ["defines a module"]

  defp impossible({{:., _, [{:__aliases__, _, [:IO]}, fun]}, _, _}) when fun in @pure_io, do: []

  defp impossible({{:., _, [{:__aliases__, _, [alias | _]}, _]}, _, _})
       when alias in @impossible_modules,
       do: ["uses #{alias}"]

  defp impossible({{:., _, [erlang, _]}, _, _}) when erlang in @impossible_erlang,
    do: ["uses :#{erlang}"]

  defp impossible({local, _, args}) when local in @impossible_locals and is_list(args),
    do: ["uses processes (spawn/send/receive/self)"]

  defp impossible(_), do: []

  # The expected value (or exception module), evaluated once on the BEAM and
  # written back as a literal the runtime module can embed.
  defp literal(%{"expect" => "raise", "exception" => name} = expect, _expected) do
    {:ok, Map.put(expect, "literal", "{:raise, #{name}}")}
  end

  defp literal(%{"expect" => "value"} = expect, expected) do
    try do
      {value, _} = Code.eval_string(expected)
      value
    rescue
      _ -> {:skip, "expected output does not evaluate on its own"}
    else
      value ->
        if opaque?(value) do
          {:skip, "expected value holds a function, pid, port or reference"}
        else
          literal = "{:value, #{value |> Macro.escape() |> Macro.to_string()}}"
          {:ok, Map.merge(expect, %{"value" => value, "literal" => literal})}
        end
    end
  end

  defp opaque?(value)
       when is_function(value) or is_pid(value) or is_port(value) or is_reference(value),
       do: true

  defp opaque?(value) when is_tuple(value), do: value |> Tuple.to_list() |> opaque?()
  defp opaque?(value) when is_map(value), do: value |> Map.to_list() |> opaque?()
  defp opaque?([head | tail]), do: opaque?(head) or opaque?(tail)
  defp opaque?(_), do: false

  # Compiles the assertion as the body of `t/0` in a module of its own; the
  # runtime module will hold the same body under another name.
  defp compile(unit, mod) do
    probe = Module.concat([Conf.Probe, mod, "T#{unit["id"]}"])

    source = """
    defmodule #{inspect(probe)} do
    #{header(mod)}
      def t do
    #{Enum.join(unit["prefix"] ++ [unit["expr"]], "\n")}
      end
    end
    """

    try do
      ExUnit.CaptureIO.capture_io(:stderr, fn ->
        [{^probe, beam}] = Code.compile_string(source, "#{inspect(mod)}/t_#{unit["id"]}.ex")
        send(self(), {:probe_beam, beam})
      end)

      receive do
        {:probe_beam, beam} -> {:ok, probe, constant?(beam)}
      end
    rescue
      e ->
        {:skip, "does not compile as a function body (#{inspect(e.__struct__)})",
         e |> Exception.message() |> String.split("\n") |> hd()}
    end
  end

  # Whether the compiler folded the body into a constant (`band(9, 3)`
  # becomes 1): such a test runs no stdlib code on the runtime.
  defp constant?(beam) do
    {:beam_file, _, _, _, _, functions} = :beam_disasm.file(beam)

    Enum.all?(functions, fn
      {:function, :t, 0, _, code} ->
        Enum.all?(code, fn op ->
          op == :return or elem(op, 0) in [:line, :label, :func_info, :move]
        end)

      _ ->
        true
    end)
  end

  # Runs the probe and the expected value on the BEAM, with a time limit.
  defp beam(probe, expect) do
    task =
      Task.async(fn ->
        outcome = outcome(fn -> probe.t() end)
        compare(outcome, expect)
      end)

    result =
      case Task.yield(task, @beam_timeout_ms) || Task.shutdown(task, :brutal_kill) do
        {:ok, result} -> result
        nil -> {:fail, "timeout on the BEAM"}
        {:exit, reason} -> {:fail, "exit: #{inspect(reason)}"}
      end

    :code.purge(probe)
    :code.delete(probe)
    result
  end

  defp outcome(fun) do
    try do
      {:value, fun.()}
    catch
      kind, reason -> {:caught, Exception.normalize(kind, reason, __STACKTRACE__)}
    end
  end

  defp compare({:value, _}, %{"expect" => "raise", "exception" => name}),
    do: {:fail, "did not raise #{name}"}

  defp compare({:caught, %{__struct__: got}}, %{"expect" => "raise", "exception" => name}) do
    if inspect(got) == name, do: :pass, else: {:fail, "raised #{inspect(got)}, not #{name}"}
  end

  defp compare({:caught, other}, %{"expect" => "raise"}), do: {:fail, "caught #{inspect(other)}"}
  defp compare({:caught, other}, _), do: {:fail, "raised #{short(other)}"}

  defp compare({:value, actual}, %{"value" => expected}) do
    if actual === expected, do: :pass, else: {:fail, "wrong result: #{short(actual)}"}
  end

  defp short(term), do: inspect(term, limit: 10, printable_limit: 80)

  # What every test module starts with: the module's macros (Integer.is_odd/1)
  # need it required, as the test module of a doctest has it.
  defp header(mod) do
    import = if mod in @imported, do: "  import #{inspect(mod)}\n", else: ""
    "  require #{inspect(mod)}\n" <> import
  end

  defp source(mod, units) do
    name = inspect(mod)

    dispatch =
      Enum.map(units, fn u ->
        "  def run(#{u["id"]}), do: Conf.Check.check(&t_#{u["id"]}/0, e_#{u["id"]}())\n"
      end)

    functions =
      Enum.map(units, fn u ->
        """

          # #{u["doc"]}
          def t_#{u["id"]} do
        #{Enum.join(u["prefix"] ++ [u["expr"]], "\n")}
          end

          defp e_#{u["id"]}, do: #{u["literal"]}
        """
      end)

    """
    # Generated by `cargo xtask conformance` from the doctests of #{name}
    # that pass on the BEAM (xtask/conformance/extract.exs).
    defmodule Conf.Tests do
      @moduledoc false
    #{header(mod)}
    #{dispatch}  def run(_), do: %{"status" => "fail", "cause" => "no such test"}
    #{functions}end
    """
  end
end

Conformance.Extract.main(System.argv())
