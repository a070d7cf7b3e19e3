defmodule ElixirWorkers.JSONTest do
  use ExUnit.Case, async: true
  alias ElixirWorkers.JSON

  test "decodes scalars, arrays and objects" do
    assert JSON.decode(~s({"a":[1,-2,3.5,true,false,null],"b":{"c":"d"},"e":[]})) ==
             {:ok, %{"a" => [1, -2, 3.5, true, false, nil], "b" => %{"c" => "d"}, "e" => []}}

    assert JSON.decode(" \n\t 42 \r\n") == {:ok, 42}
    assert JSON.decode(~s("x")) == {:ok, "x"}
    assert JSON.decode("{}") == {:ok, %{}}
  end

  test "decodes numbers with fractions and exponents" do
    assert JSON.decode("1e3") == {:ok, 1000.0}
    assert JSON.decode("-1.25E-2") == {:ok, -0.0125}
    assert JSON.decode("2.5e+1") == {:ok, 25.0}
    assert JSON.decode("-0") == {:ok, 0}
    assert JSON.decode("12345678901234567890") == {:ok, 12_345_678_901_234_567_890}
  end

  test "simple escapes" do
    assert JSON.decode(~S("a\"b\\c\/d\be\ff\ng\rh\ti")) == {:ok, "a\"b\\c/d\be\ff\ng\rh\ti"}
    assert JSON.decode(~S("\\")) == {:ok, "\\"}
    assert JSON.decode(~S("\"\"")) == {:ok, "\"\""}
  end

  test "\\u escapes decode to UTF-8, including surrogate pairs" do
    assert JSON.decode(~S("\u2603")) == {:ok, "☃"}
    assert JSON.decode(~S("\u00e9")) == {:ok, "é"}
    assert JSON.decode(~S("caf\u00E9!")) == {:ok, "café!"}
    assert JSON.decode(~S("\ud83d\ude00")) == {:ok, "😀"}
    assert JSON.decode(~S("x\uD834\uDD1Ey")) == {:ok, "x𝄞y"}
    assert JSON.decode(~S("\u0000")) == {:ok, <<0>>}
    assert JSON.decode(~S("\u0041\u0042")) == {:ok, "AB"}
  end

  test "lone surrogates become U+FFFD instead of invalid UTF-8" do
    assert JSON.decode(~S("\ud83d")) == {:ok, "\uFFFD"}
    assert JSON.decode(~S("\ude00x")) == {:ok, "\uFFFDx"}
    assert JSON.decode(~S("\ud83d\u0041")) == {:ok, "\uFFFDA"}
  end

  test "raw UTF-8 passes through" do
    assert JSON.decode(~s({"k":"☃ é 😀"})) == {:ok, %{"k" => "☃ é 😀"}}
  end

  test "invalid documents give an error with an offset" do
    for bad <- ["", "{", "[1,", ~s({"a" 1}), ~s({"a":1,}), "[1 2]", "tru", ~s("abc), "01x", "-", "{1:2}", ~S("\x"), ~S("\u12G4"), "[1]]", "nul"] do
      assert {:error, message} = JSON.decode(bad), "accepted #{inspect(bad)}"
      assert message =~ ~r/at byte \d+|unexpected end|unterminated/, message
    end

    assert JSON.decode(~s({"a" 1})) == {:error, "expected ':' after object key at byte 5"}
  end

  test "a number the VM cannot hold is an error, not a crash" do
    assert JSON.decode(~s({"a":1e999})) == {:error, "number out of range at byte 5"}
  end

  test "nesting is limited to 32 levels" do
    ok = String.duplicate("[", 32) <> String.duplicate("]", 32)
    assert {:ok, _} = JSON.decode(ok)
    deep = String.duplicate("[", 33) <> String.duplicate("]", 33)
    assert {:error, "nesting deeper than 32 at byte " <> _} = JSON.decode(deep)
    deep_obj = String.duplicate(~s({"a":), 33) <> "1" <> String.duplicate("}", 33)
    assert {:error, "nesting deeper than 32" <> _} = JSON.decode(deep_obj)
  end

  test "raw control characters inside strings are errors" do
    for c <- [0, 1, ?\n, ?\t, 0x1F] do
      assert JSON.decode(<<?", ?a, c, ?b, ?">>) == {:error, "control character in string at byte 2"}
      # after an escape too (the slow path)
      assert JSON.decode(<<?", ?\\, ?n, c, ?">>) == {:error, "control character in string at byte 3"}
    end

    # DEL and the escaped forms stay fine
    assert JSON.decode(<<?", 0x7F, ?">>) == {:ok, <<0x7F>>}
    assert JSON.decode(~S("a\u0001\n")) == {:ok, "a\x01\n"}
  end

  test "invalid UTF-8 inside strings is an error, so decoded strings always re-encode" do
    bad = [
      <<0xFF>>,
      <<0xC3>>,
      # truncated sequence before the closing quote
      <<0xE2, 0x98>>,
      # overlong encoding of "/"
      <<0xC0, 0xAF>>,
      # UTF-8-encoded surrogate U+D800
      <<0xED, 0xA0, 0x80>>,
      # past U+10FFFF
      <<0xF4, 0x90, 0x80, 0x80>>,
      # a lone continuation byte
      <<0x80>>
    ]

    for b <- bad do
      assert JSON.decode(<<?", ?x, b::binary, ?">>) == {:error, "invalid UTF-8 in string at byte 2"},
             inspect(b)

      assert JSON.decode(<<?", ?\\, ?t, b::binary, ?">>) == {:error, "invalid UTF-8 in string at byte 3"},
             inspect(b)

      assert {:error, "invalid UTF-8 in string at byte 2"} = JSON.decode(<<?{, ?", b::binary, ?", ?:, ?1, ?}>>)
    end

    # every valid width, before and after escapes; offsets stay right after them
    text = "é☃😀"
    assert JSON.decode(<<?", text::binary, ?">>) == {:ok, text}
    assert JSON.decode(<<?", ?\\, ?n, text::binary, ?">>) == {:ok, "\n" <> text}
    assert JSON.decode(<<?", text::binary, ?\\, ?t, text::binary, ?">>) == {:ok, text <> "\t" <> text}
    assert JSON.decode(<<?", text::binary, 0xFF, ?">>) == {:error, "invalid UTF-8 in string at byte 10"}

    for src <- [~s("é☃😀"), ~S("a\u0001b"), ~S("\uD800x"), ~S("\uDBFF\uDFFF")] do
      {:ok, decoded} = JSON.decode(src)
      assert JSON.decode!(JSON.encode(decoded)) == decoded
    end
  end

  test "leading zeros in numbers are errors" do
    for bad <- ["01", "-01", "00", "[007]", ~s({"a":01})] do
      assert {:error, "leading zero in number at byte " <> _} = JSON.decode(bad), bad
    end

    assert JSON.decode("[0, -0, 0.5, -0.25, 0e3, 10, 100]") == {:ok, [0, 0, 0.5, -0.25, 0.0, 10, 100]}
  end

  test "decode/2 takes other size and depth limits" do
    deep = String.duplicate("[", 100) <> String.duplicate("]", 100)
    assert {:error, "nesting deeper than 32 at byte 33"} = JSON.decode(deep)
    assert {:ok, _} = JSON.decode(deep, max_depth: 100)
    assert {:error, "nesting deeper than 99 at byte 100"} = JSON.decode(deep, max_depth: 99)

    big = ~s(") <> :binary.copy("a", 10 * 1024 * 1024) <> ~s(")
    assert {:ok, s} = JSON.decode(big, max_size: 11 * 1024 * 1024)
    assert byte_size(s) == 10 * 1024 * 1024
    assert {:error, "JSON document larger than 5 bytes"} = JSON.decode("[1, 2]", max_size: 5)
  end

  test "documents above 10 MB are rejected before parsing" do
    big = ~s(") <> :binary.copy("a", 10 * 1024 * 1024) <> ~s(")
    assert {:error, "JSON document larger than 10485760 bytes"} = JSON.decode(big)
    fits = ~s(") <> :binary.copy("a", 10 * 1024 * 1024 - 2) <> ~s(")
    assert {:ok, s} = JSON.decode(fits)
    assert byte_size(s) == 10 * 1024 * 1024 - 2
  end

  test "encodes terms" do
    assert JSON.encode(%{"a" => [1, 2.5, nil, true, false, :atom]}) ==
             ~s({"a":[1,2.5,null,true,false,"atom"]})

    assert JSON.encode([]) == "[]"
    assert JSON.encode(%{}) == "{}"
    assert JSON.encode(%{a: 1}) == ~s({"a":1})
    assert JSON.encode(%{1 => 1}) == ~s({"1":1})
    assert JSON.encode(0.1) == "0.1"
  end

  test "escapes what JSON requires and passes UTF-8 through" do
    assert JSON.encode("a\"b\\c\nd\re\tf\bg\fh" <> <<1, 31>>) ==
             ~S("a\"b\\c\nd\re\tf\u0008g\u000ch\u0001\u001f")

    assert JSON.encode("☃é😀/") == ~s("☃é😀/")
  end

  test "refuses invalid UTF-8 and unsupported terms" do
    assert_raise ElixirWorkers.Error, ~r/invalid UTF-8 in JSON string at byte 1/, fn ->
      JSON.encode(<<?a, 0xFF, ?b>>)
    end

    assert_raise ElixirWorkers.Error, ~r/cannot encode/, fn -> JSON.encode({:tuple}) end
  end

  test "round trips random documents" do
    :rand.seed(:exsss, {1, 2, 3})

    for _ <- 1..300 do
      term = random_term(4)
      assert JSON.decode(JSON.encode(term)) == {:ok, term}
    end
  end

  defp random_term(0), do: random_scalar()

  defp random_term(depth) do
    case :rand.uniform(4) do
      1 -> for _ <- 1..:rand.uniform(4), do: random_term(depth - 1)
      2 -> Map.new(1..:rand.uniform(4), fn _ -> {random_string(), random_term(depth - 1)} end)
      _ -> random_scalar()
    end
  end

  defp random_scalar do
    case :rand.uniform(6) do
      1 -> :rand.uniform(1_000_000) - 500_000
      2 -> (:rand.uniform(1_000_000) - 500_000) / 7
      3 -> Enum.random([true, false, nil])
      _ -> random_string()
    end
  end

  defp random_string do
    pool = ~c"ab\"\\\n\t/" ++ [0, 31, 0xE9, 0x2603, 0x1F600, 0xFFFD]
    for _ <- 1..:rand.uniform(8), into: "", do: <<Enum.random(pool)::utf8>>
  end
end
