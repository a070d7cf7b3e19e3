defmodule TestApp.JsonDiff do
  @moduledoc false
  # Differential test of the adapter's JSON and HTML NIFs
  # (crates/runtime/atomvm-wasi/src/json_{decode,encode}.c, html_escape.c) against the framework's Elixir code.
  #
  # `report/1` takes a corpus of documents and prints, per document, what
  # JSON.decode, JSON.encode and HTML.escape give, in a text form that is the
  # same on every VM for the same terms. tests/worker.rs runs
  # it on the real AtomVM runtime (POST /json_diff: the NIFs answer) and with
  # `elixir` on the BEAM (only the Elixir code runs) and compares the two
  # reports line by line. Lines starting with "self" compare the NIF with the
  # Elixir code on the same VM; "fallback" lines (AtomVM only) name the
  # documents the decode NIF handed back to the Elixir code.
  #
  # Corpus: <<byte_size(doc)::32, doc::binary>> repeated.

  alias ElixirWorkers.{HTML, JSON, Runtime}

  # :wasi exists only inside the AtomVM WASI runtime.
  @compile {:no_warn_undefined, :wasi}

  def report(corpus) do
    :erlang.iolist_to_binary([docs(corpus, 0, []), terms(encode_terms(), 0, [])])
  end

  # On the BEAM: `elixir -pa EBIN -e 'TestApp.JsonDiff.main()' CORPUS`.
  def main do
    [path] = System.argv()
    {:ok, corpus} = :file.read_file(path)
    IO.binwrite(report(corpus))
  end

  defp docs(<<len::32, doc::binary-size(len), rest::binary>>, i, acc),
    do: docs(rest, i + 1, [acc | doc_report(doc, :erlang.integer_to_binary(i))])

  defp docs(<<>>, _i, acc), do: acc

  defp doc_report(doc, i) do
    decoded = JSON.decode(doc)

    [
      line("decode", i, dump(decoded)),
      line("decode_depth0", i, dump(JSON.decode(doc, max_depth: 0))),
      line("decode_depth2", i, dump(JSON.decode(doc, max_depth: 2))),
      # A limit past 64 bits (a bignum on AtomVM) is no limit.
      line("decode_depth_big", i, dump(JSON.decode(doc, max_depth: 1_000_000_000_000_000_000_000))),
      line("self_decode", i, same(decoded, JSON.elixir_decode(doc, JSON.max_depth()))),
      fallback(doc, i),
      line("html", i, dump(HTML.escape_to_binary(doc))),
      line("self_html", i, same(HTML.escape_to_binary(doc), HTML.elixir_escape(doc) |> :erlang.iolist_to_binary())),
      case decoded do
        {:ok, value} -> encode_lines("encode", i, value)
        _ -> []
      end
    ]
  end

  defp fallback(doc, i) do
    case Runtime.vm() do
      :atomvm ->
        case :wasi.json_decode(doc, JSON.max_depth()) do
          :fallback -> line("fallback", i, "decode")
          _ -> []
        end

      :beam ->
        []
    end
  end

  defp terms([], _i, acc), do: acc

  defp terms([t | rest], i, acc),
    do: terms(rest, i + 1, [acc | encode_lines("term", :erlang.integer_to_binary(i), t)])

  # JSON.encode (the NIF on AtomVM) against the Elixir encoder on the same VM,
  # and the text itself where it holds no floats (formatted differently on
  # each VM by design: json.ex's float/1) and no map beyond 32 keys (whose
  # order :maps.to_list gives differs between the VMs).
  defp encode_lines(kind, i, term) do
    nif = attempt(fn -> JSON.encode(term) end)
    ex = attempt(fn -> JSON.elixir_encode(term) end)
    iodata = attempt(fn -> :erlang.iolist_to_binary(JSON.encode_onto(term, [?!])) end)

    [
      line("self_" <> kind, i, same(nif, ex)),
      line("self_" <> kind <> "_onto", i, same(iodata, with_bang(ex))),
      if vm_specific?(term) do
        []
      else
        line(kind, i, dump(nif))
      end
    ]
  end

  defp with_bang({:ok, bin}), do: {:ok, <<bin::binary, ?!>>}
  defp with_bang(other), do: other

  defp attempt(fun) do
    try do
      {:ok, fun.()}
    catch
      :error, %{message: m} -> {:raised, m}
      :error, other -> {:raised, ElixirWorkers.Format.inspect(other)}
    end
  end

  defp same(a, a), do: "same"
  defp same(a, b), do: ["DIFF ", dump(a), " <> ", dump(b)]

  defp line(kind, i, text), do: [kind, ?\s, i, ?\s, text, ?\n]

  defp vm_specific?(f) when is_float(f), do: true
  defp vm_specific?([h | t]), do: vm_specific?(h) or vm_specific?(t)
  defp vm_specific?(m) when is_map(m), do: map_size(m) > 32 or vm_specific?(:maps.to_list(m))
  defp vm_specific?({a, b}), do: vm_specific?(a) or vm_specific?(b)
  defp vm_specific?(_), do: false

  # Terms no JSON document decodes to: atoms, atom and integer keys, big
  # integers, floats, charlists, invalid UTF-8, improper lists, tuples, deep
  # nesting, maps beyond 32 keys.
  defp encode_terms do
    deep = :lists.foldl(fn _, acc -> [acc] end, [], :lists.seq(1, 600))
    wide = :maps.from_list(:lists.map(fn n -> {:erlang.integer_to_binary(n), n} end, :lists.seq(1, 40)))

    [
      %{a: 1, b: [true, false, nil], c: :atom_value, d: "x"},
      %{1 => "one", -5 => "minus five", "s" => 2},
      %{nil: nil, true: true},
      [0, -1, 2_147_483_647, -2_147_483_648, 9_007_199_254_740_993, -9_223_372_036_854_775_808],
      [9_223_372_036_854_775_807, 9_223_372_036_854_775_808, -9_223_372_036_854_775_809],
      [123_456_789_012_345_678_901_234_567_890],
      %{123_456_789_012_345_678_901_234_567_890 => 1},
      [0.0, -0.0, 1.0, 1.5, -2.25, 0.1, 0.30000000000000004, 1.0e300, 1.0e-300, 5.0e-324],
      [2.2250738585072014e-308, 1.7976931348623157e308, 123_456.789, 1 / 3, 2 / 3, 100.0, 1.0e21],
      ~c"charlist",
      [[], %{}, [[]], [%{}]],
      "quote \" backslash \\ slash / ctrl \u0001\u001f del \u007f nl \n cr \r tab \t bs \b ff \f",
      "é ☃ 😀 \u2028 \uFFFD",
      <<"bad ", 0xFF, " utf8">>,
      <<0xED, 0xA0, 0x80>>,
      %{<<0xC0, 0x80>> => 1},
      [1 | 2],
      {:tuple, 1},
      [1, {:nested, :tuple}],
      %{{:tuple_key} => 1},
      :"atom with \"quotes\"",
      :ok,
      deep,
      wide,
      %{"z" => 1, "a" => 2, "m" => %{"y" => [1, 2, %{"b" => "c"}]}}
    ]
  end

  # --- a text form of terms, the same on every VM --------------------------

  def dump({:ok, v}), do: ["ok ", dump(v)]
  def dump({:error, v}), do: ["error ", dump(v)]
  def dump({:raised, m}), do: ["raised ", dump(m)]
  def dump(b) when is_binary(b), do: [?b, :erlang.integer_to_binary(byte_size(b)), ?:, text(b, b, 0, 0, [])]
  def dump(i) when is_integer(i), do: [?i | :erlang.integer_to_binary(i)]
  def dump(f) when is_float(f), do: [?f | :erlang.float_to_binary(f, [{:scientific, 17}])]
  def dump(a) when is_atom(a), do: [?a | :erlang.atom_to_binary(a, :utf8)]
  def dump([]), do: "[]"
  def dump(l) when is_list(l), do: [?[, join(:lists.map(&dump/1, l)), ?]]

  def dump(m) when is_map(m) do
    pairs = :lists.map(fn {k, v} -> [dump(k), "=>", dump(v)] end, :lists.sort(:maps.to_list(m)))
    [?{, join(pairs), ?}]
  end

  def dump(other), do: ["?", ElixirWorkers.Format.inspect(other)]

  defp join([]), do: []
  defp join([h | t]), do: [h | :lists.map(fn x -> [?, | x] end, t)]

  # Printable ASCII as slices of the binary; every other byte (and the
  # backslash) as \xx, so a report is lines of plain text.
  defp text(bin, orig, start, pos, acc) do
    case bin do
      <<c, rest::binary>> when c >= 0x20 and c < 0x7F and c != ?\\ ->
        text(rest, orig, start, pos + 1, acc)

      <<c, rest::binary>> ->
        acc = [acc, :binary.part(orig, start, pos - start), ?\\, hex(div(c, 16)), hex(rem(c, 16))]
        text(rest, orig, pos + 1, pos + 1, acc)

      <<>> ->
        [acc | :binary.part(orig, start, pos - start)]
    end
  end

  defp hex(d) when d < 10, do: ?0 + d
  defp hex(d), do: ?a + d - 10
end
