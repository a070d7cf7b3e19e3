# Run: elixir crates/runtime/atomvm-wasi/lib/test/base_diff.exs   (from /work/main)
#
# Differential test of lib/Elixir.Base.erl (the AtomVM replacement for
# Elixir's Base module) against the real Base of the running Elixir (1.14).
#
# The Erlang source is copied with its module renamed to
# 'Elixir.EwBaseUnderTest', compiled and loaded next to the real Base, then
# every public function is called on both with the same arguments and the
# outcomes are compared: the returned value, or the raised exception's
# module and message (module names in messages are normalised, so a
# FunctionClauseError from EwBaseUnderTest.decode64/2 matches one from
# Base.decode64/2).  Inputs:
#   * all doctests of Base (also checked against their documented result),
#   * __info__/1,
#   * edge cases: empty, 1..10 bytes and all byte values with every option
#     combination, every padding length, wrong padding, a bad character in
#     each position, whitespace with and without ignore: :whitespace, case
#     variants, non-canonical trailing bits, malformed options,
#     non-binary arguments,
#   * every final group shape (1..8 characters over valid/"="/junk, alone
#     and after a valid or invalid 8-character group),
#   * every byte value in a main group and in the final group,
#   * seeded random round trips and random junk strings (>= 20,000 each),
#   * a 1 MB round trip per alphabet.
# Prints pass/fail counts and exits with status 1 on any mismatch.

defmodule BaseDiff do
  @src Path.expand("../Elixir.Base.erl", __DIR__)
  @ut EwBaseUnderTest

  @encoders [:encode16, :encode32, :hex_encode32, :encode64, :url_encode64]
  @decoders [:decode16, :decode32, :hex_decode32, :decode64, :url_decode64]
  @bang_decoders Enum.map(@decoders, &:"#{&1}!")
  @all_decoders @decoders ++ @bang_decoders
  # encoder => decoders that read its output
  @pairs %{
    encode16: [:decode16, :decode16!],
    encode32: [:decode32, :decode32!],
    hex_encode32: [:hex_decode32, :hex_decode32!],
    encode64: [:decode64, :decode64!],
    url_encode64: [:url_decode64, :url_decode64!]
  }

  def load do
    src = File.read!(@src)
    renamed =
      String.replace(src, "-module('Elixir.Base').", "-module('Elixir.EwBaseUnderTest').")

    if renamed == src, do: raise("module line not found in #{@src}")
    dir = Path.join(System.tmp_dir!(), "base_diff_#{System.unique_integer([:positive])}")
    File.mkdir_p!(dir)
    path = Path.join(dir, "Elixir.EwBaseUnderTest.erl")
    File.write!(path, renamed)

    case :compile.file(String.to_charlist(path), [:binary, :return_errors, :return_warnings]) do
      {:ok, mod, bin, warnings} ->
        for {_file, ws} <- warnings, w <- ws, do: IO.puts("compile warning: #{inspect(w)}")
        {:module, ^mod} = :code.load_binary(mod, String.to_charlist(path), bin)

      other ->
        IO.puts("compile failed: #{inspect(other)}")
        System.halt(1)
    end

    File.rm_rf!(dir)
  end

  # ---------------------------------------------------------------------
  # comparison

  def outcome(mod, fun, args) do
    try do
      {:returned, apply(mod, fun, args)}
    rescue
      e ->
        msg = e |> Exception.message() |> String.replace("EwBaseUnderTest", "Base")
        {:raised, e.__struct__, msg}
    catch
      kind, value -> {:caught, kind, value}
    end
  end

  def check(fun, args) do
    expected = outcome(Base, fun, args)
    actual = outcome(@ut, fun, args)
    record(expected == actual, fn -> {fun, args, expected, actual} end)
    expected
  end

  def record(true, _), do: Process.put(:pass, Process.get(:pass, 0) + 1)

  def record(false, info) do
    Process.put(:fail, Process.get(:fail, 0) + 1)
    shown = Process.get(:shown, 0)

    if shown < 40 do
      Process.put(:shown, shown + 1)
      {fun, args, expected, actual} = info.()
      IO.puts("MISMATCH #{fun}#{inspect(args, limit: 60, printable_limit: 120)}")
      IO.puts("  Base:            #{inspect(expected, limit: 60, printable_limit: 120)}")
      IO.puts("  EwBaseUnderTest: #{inspect(actual, limit: 60, printable_limit: 120)}")
    end
  end

  def section(name, f) do
    before = {Process.get(:pass, 0), Process.get(:fail, 0)}
    t0 = System.monotonic_time(:millisecond)
    f.()
    {p, fl} = {Process.get(:pass, 0) - elem(before, 0), Process.get(:fail, 0) - elem(before, 1)}
    ms = System.monotonic_time(:millisecond) - t0
    IO.puts(String.pad_trailing(name, 34) <> " #{p} passed, #{fl} failed (#{ms} ms)")
  end

  # ---------------------------------------------------------------------
  # option sets

  # Every combination of absent/valid/invalid values for the three options.
  def option_grid do
    cases = [:absent, :upper, :lower, :mixed, :foo]
    pads = [:absent, true, false, nil, :x]
    ignores = [:absent, :whitespace, :foo, nil]

    for c <- cases, p <- pads, i <- ignores do
      [case: c, padding: p, ignore: i] |> Enum.reject(fn {_, v} -> v == :absent end)
    end
  end

  # Options that are not well-formed keyword lists or repeat keys.
  def odd_options do
    [
      :foo,
      %{},
      %{case: :lower},
      [:foo],
      [{:case}],
      [{:padding}],
      [{:ignore}],
      [{:case}, {:padding}],
      [{:padding}, {:case}],
      [{:ignore}, {:padding}],
      [{:padding, false}, {:ignore}],
      [{:case, :lower, 1}],
      [1 | 2],
      [{:padding, false} | 2],
      [{:case, :lower} | :x],
      [case: :lower, case: :upper],
      [padding: false, padding: true],
      [ignore: :whitespace, ignore: :foo],
      [{"case", :lower}],
      [{:case, :lower}, :junk, {:padding, false}]
    ]
  end

  # Options that make sense for a function (for the bulk tests).
  def sensible_options(fun) do
    cond do
      fun in [:encode16] -> [[], [case: :upper], [case: :lower]]
      fun in [:encode32, :hex_encode32] -> for c <- [:upper, :lower], p <- [true, false], do: [case: c, padding: p]
      fun in [:encode64, :url_encode64] -> [[], [padding: false], [padding: true]]
      fun in [:decode16, :decode16!] -> [[], [case: :lower], [case: :mixed]]
      fun in [:decode32, :decode32!, :hex_decode32, :hex_decode32!] ->
        for c <- [:upper, :lower, :mixed], p <- [true, false], do: [case: c, padding: p]
      true ->
        for p <- [true, false], i <- [nil, :whitespace] do
          Enum.reject([padding: p, ignore: i], fn {_, v} -> v == nil end)
        end
    end
  end

  # ---------------------------------------------------------------------
  # sections

  def doctests do
    {:docs_v1, _, _, _, _, _, docs} = Code.fetch_docs(Base)

    for {{:function, _name, _arity}, _, _, %{"en" => doc}, _} <- docs do
      doc
      |> String.split("\n")
      |> Enum.map(&String.trim/1)
      |> Enum.chunk_while(
        nil,
        fn
          "iex> " <> expr, _ -> {:cont, {expr, []}}
          "", nil -> {:cont, nil}
          "", {expr, exp} -> {:cont, {expr, Enum.join(Enum.reverse(exp), "\n")}, nil}
          line, {expr, exp} -> {:cont, {expr, [line | exp]}}
          _, nil -> {:cont, nil}
        end,
        fn
          nil -> {:cont, nil}
          {expr, exp} -> {:cont, {expr, Enum.join(Enum.reverse(exp), "\n")}, nil}
        end
      )
    end
    |> List.flatten()
    |> Enum.each(fn {expr, expected_src} ->
      {{:., _, [{:__aliases__, _, [:Base]}, fun]}, _, arg_asts} = Code.string_to_quoted!(expr)
      args = Enum.map(arg_asts, fn a -> elem(Code.eval_quoted(a), 0) end)
      {expected, _} = Code.eval_string(expected_src)
      # the documented result must hold for the real Base, and both must agree
      record(outcome(Base, fun, args) == {:returned, expected}, fn ->
        {fun, args, {:documented, expected}, outcome(Base, fun, args)}
      end)

      check(fun, args)
    end)
  end

  def info do
    for key <- [:module, :functions, :macros, :deprecated, :struct, :exports_md5] do
      record(Base.__info__(key) == @ut.__info__(key), fn ->
        {:__info__, [key], Base.__info__(key), @ut.__info__(key)}
      end)
    end

    for key <- [:attributes, :compile, :md5] do
      ok = match?({:returned, _}, outcome(@ut, :__info__, [key]))
      record(ok, fn -> {:__info__, [key], :returns, outcome(@ut, :__info__, [key])} end)
    end

    # exported API identical (apart from the erlc-generated module_info)
    ours = @ut.module_info(:exports) -- [module_info: 0, module_info: 1]
    theirs = Base.module_info(:exports) -- [module_info: 0, module_info: 1]
    record(Enum.sort(ours) == Enum.sort(theirs), fn -> {:exports, [], theirs, ours} end)
    check(:__info__, [:nope])
  end

  def small_binaries do
    for n <- 0..10, b <- [:binary.copy(<<0>>, n), :binary.copy(<<255>>, n), Enum.into(1..n//1, <<>>, &<<&1 * 37>>)] do
      b
    end ++ for(c <- 0..255, do: <<c>>) ++ [Enum.into(0..255, <<>>, &<<&1>>)]
  end

  def encoders_grid do
    opts = option_grid() ++ odd_options()

    for b <- small_binaries(), f <- @encoders, o <- opts do
      check(f, [b, o])
    end

    for f <- @encoders, b <- ["", "f", "fo", "foo", "foob", "fooba", "foobar"] do
      check(f, [b])
    end
  end

  def roundtrip_grid do
    # every valid encoding (all padding lengths), decoded with every option set
    opts = option_grid() ++ odd_options()

    for b <- small_binaries() |> Enum.take(40), {enc, decs} <- @pairs,
        eo <- sensible_options(enc),
        s = Base |> apply(enc, [b, eo]),
        d <- decs, o <- opts do
      check(d, [s, o])
    end
  end

  # Variants of valid encodings: wrong padding, junk in each position,
  # whitespace, case changes, non-canonical trailing bits.
  def mutations do
    junk = ["%", "=", "\n", " ", "\v", <<255>>, "\"", "-", "_", "+", "/", "a", "Z", "8", "1", "w"]

    for b <- Enum.map(0..10, &Enum.into(1..&1//1, <<>>, fn i -> <<i * 53 + 7>> end)),
        {enc, decs} <- @pairs,
        eo <- sensible_options(enc) do
      s = apply(Base, enc, [b, eo])
      len = byte_size(s)
      trimmed = String.trim_trailing(s, "=")

      variants =
        [
          s <> "=",
          s <> "==",
          s <> "===",
          s <> "========",
          "=" <> s,
          trimmed,
          trimmed <> "=",
          String.slice(s, 0, max(len - 1, 0)),
          s <> s,
          s <> trimmed,
          trimmed <> s,
          String.downcase(s),
          String.upcase(s),
          swapcase(s),
          s <> "\n",
          "\n" <> s,
          " " <> s <> " ",
          Enum.join(String.graphemes(s), "\r\n"),
          Enum.join(String.graphemes(s), " "),
          s <> "\t\t"
        ] ++
          for(i <- 0..max(len - 1, 0)//1, j <- junk, len > 0, do: replace_at(s, i, j)) ++
          for(i <- 0..len, w <- [" ", "\n", "\t", "\r", "\v", "\f"], do: insert_at(s, i, w)) ++
          trailing_bit_variants(s, enc)

      for v <- Enum.uniq(variants), d <- decs, o <- sensible_options(d) ++ [[ignore: :whitespace, padding: false]] do
        check(d, [v, o])
      end
    end
  end

  # Replace the last data character before the padding with every
  # character of the alphabet (sets/clears the unused low bits).
  def trailing_bit_variants(s, enc) do
    trimmed = String.trim_trailing(s, "=")
    pad = binary_part(s, byte_size(trimmed), byte_size(s) - byte_size(trimmed))

    if trimmed == "" do
      []
    else
      alphabet = alphabet(enc)
      head = binary_part(trimmed, 0, byte_size(trimmed) - 1)
      for c <- String.graphemes(alphabet), do: head <> c <> pad
    end
  end

  def alphabet(:encode16), do: "0123456789ABCDEFabcdef"
  def alphabet(:encode32), do: "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567abcdefghijklmnopqrstuvwxyz"
  def alphabet(:hex_encode32), do: "0123456789ABCDEFGHIJKLMNOPQRSTUVabcdefghijklmnopqrstuv"
  def alphabet(:encode64), do: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  def alphabet(:url_encode64), do: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

  def swapcase(s) do
    for <<c <- s>>, into: <<>> do
      cond do
        c in ?a..?z -> <<c - 32>>
        c in ?A..?Z -> <<c + 32>>
        true -> <<c>>
      end
    end
  end

  def replace_at(s, i, j), do: binary_part(s, 0, i) <> j <> binary_part(s, i + 1, byte_size(s) - i - 1)
  def insert_at(s, i, j), do: binary_part(s, 0, i) <> j <> binary_part(s, i, byte_size(s) - i)

  # Every final-group shape: 1..8 characters over {valid, "=", junk}
  # (and a lower case letter for short ones), alone or after a valid or
  # an invalid full group.
  def last_group_shapes do
    shapes =
      for(n <- 0..8, s <- words(["7", "=", "%"], n), do: s) ++
        for(n <- 1..4, s <- words(["7", "a", "=", "%", "\n"], n), do: s)

    shapes = Enum.uniq(shapes)
    prefixes = ["", "77777777", "7777777%"]

    opts_for = fn
      d when d in [:decode16, :decode16!] -> [[], [case: :mixed]]
      d when d in [:decode64, :decode64!, :url_decode64, :url_decode64!] -> [[], [padding: false], [ignore: :whitespace]]
      _ -> [[], [padding: false, case: :mixed]]
    end

    for p <- prefixes, s <- shapes, d <- @all_decoders, o <- opts_for.(d) do
      check(d, [p <> s, o])
    end
  end

  # Every byte value in a main group and in the final group (non-alphabet
  # messages show the byte as inspect/2 does).
  def every_byte do
    for c <- 0..255, d <- @all_decoders, o <- [[], [case: :mixed, padding: false]] do
      check(d, [<<c, c>>, o])
      check(d, ["22" <> <<c>> <> "22222" <> "2222" <> <<c>> <> "===", o])
      check(d, ["2222222" <> <<c>>, o])
    end
  end

  def words(_alphabet, 0), do: [""]
  def words(alphabet, n), do: for(w <- words(alphabet, n - 1), c <- alphabet, do: w <> c)

  def bad_arguments do
    for f <- @encoders ++ @all_decoders, a <- [1, nil, :foo, 'abc', [1, 2], %{}, <<1::3>>, <<1, 2::4>>, {1}],
        args <- [[a], [a, []], [a, [case: :foo]], [a, :foo]] do
      check(f, args)
    end

    for f <- @encoders ++ @all_decoders, o <- odd_options(), s <- ["", "Zg==", "MY======", "66", "A", "Zg"] do
      check(f, [s, o])
    end
  end

  def random_roundtrips(n) do
    for _ <- 1..n do
      size = if :rand.uniform(10) == 1, do: :rand.uniform(300), else: :rand.uniform(41) - 1
      b = :crypto.strong_rand_bytes(size)
      enc = Enum.random(@encoders)
      eo = random_options(enc)
      # (odd options may make the encoder raise; then decode the raw bytes)
      s =
        case check(enc, [b, eo]) do
          {:returned, s} -> s
          _ -> b
        end

      s = if :rand.uniform(3) == 1, do: mutate(s), else: s
      d = Enum.random(@pairs[enc])
      check(d, [s, random_options(d)])
    end
  end

  def random_junk(n) do
    for _ <- 1..n do
      d = Enum.random(@all_decoders)
      enc = d |> Atom.to_string() |> String.trim_trailing("!") |> String.replace("decode", "encode") |> String.to_atom()
      chars = String.graphemes(alphabet(enc)) ++ ["=", "=", "=", "%", " ", "\n", "\t", "\r", "\v", <<200>>, "."]
      len = if :rand.uniform(8) == 1, do: :rand.uniform(64), else: :rand.uniform(13) - 1
      s = Enum.map_join(1..len//1, fn _ -> Enum.random(chars) end)
      check(d, [s, random_options(d)])
    end
  end

  def random_options(fun) do
    case :rand.uniform(20) do
      1 -> Enum.random(option_grid() ++ odd_options())
      _ -> Enum.random(sensible_options(fun))
    end
  end

  def mutate(""), do: Enum.random(["=", " ", "%", "A"])

  def mutate(s) do
    i = :rand.uniform(byte_size(s)) - 1

    case :rand.uniform(7) do
      1 -> replace_at(s, i, Enum.random(["%", "=", "a", "A", "7", "-", "_", "+", "/", <<255>>]))
      2 -> insert_at(s, i, Enum.random([" ", "\n", "\t", "\r", "\v", "="]))
      3 -> String.trim_trailing(s, "=")
      4 -> s <> "="
      5 -> binary_part(s, 0, i)
      6 -> swapcase(s)
      7 -> String.downcase(s)
    end
  end

  def large do
    big = :crypto.strong_rand_bytes(1_000_000) <> "xy"

    for {enc, [d, d!]} <- @pairs, eo <- [[], [padding: false]] do
      {:returned, s} = check(enc, [big, eo])
      check(d, [s, eo])
      check(d!, [s, eo])
      check(d, [String.downcase(s), [case: :mixed, padding: false]])
    end

    with_ws = Base.encode64(big) |> String.graphemes() |> Enum.chunk_every(76) |> Enum.map_join("\n", &Enum.join/1)
    check(:decode64, [with_ws, [ignore: :whitespace]])
    check(:decode64!, [with_ws <> "%", [ignore: :whitespace]])
  end

  def main do
    load()
    :rand.seed(:exsss, {2024, 14, 0})
    section("doctests", &doctests/0)
    section("__info__ / exports", &info/0)
    section("encoders x option grid", &encoders_grid/0)
    section("round trips x option grid", &roundtrip_grid/0)
    section("mutated encodings", &mutations/0)
    section("final group shapes", &last_group_shapes/0)
    section("every byte value", &every_byte/0)
    section("bad arguments / odd options", &bad_arguments/0)
    section("random round trips (20,000)", fn -> random_roundtrips(20_000) end)
    section("random junk strings (20,000)", fn -> random_junk(20_000) end)
    section("1 MB inputs", &large/0)
    pass = Process.get(:pass, 0)
    fail = Process.get(:fail, 0)
    IO.puts("TOTAL: #{pass} passed, #{fail} failed")
    if fail > 0, do: System.halt(1)
  end
end

BaseDiff.main()
