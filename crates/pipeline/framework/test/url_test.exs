defmodule ElixirWorkers.URLTest do
  use ExUnit.Case, async: true
  alias ElixirWorkers.URL

  test "splits the target" do
    assert URL.split_target("/a/b?x=1&y") == {"/a/b", "x=1&y"}
    assert URL.split_target("/") == {"/", ""}
    assert URL.split_target("/q?a=b?c") == {"/q", "a=b?c"}
  end

  test "segments drop empty parts and percent-decode" do
    assert URL.segments("/") == []
    assert URL.segments("/users//42/") == ["users", "42"]
    assert URL.segments("/j%C3%B6rg/a%2Fb/x+y") == ["jörg", "a/b", "x+y"]
  end

  test "decodes query strings and forms" do
    assert URL.decode_query("") == %{}
    assert URL.decode_query("a=1&b=hello+world&c=%2F&d&&e=") ==
             %{"a" => "1", "b" => "hello world", "c" => "/", "d" => "", "e" => ""}

    assert URL.decode_query("k=1&k=2") == %{"k" => "2"}
    assert URL.decode_query("caf%C3%A9=%E2%98%83") == %{"café" => "☃"}
  end

  test "keeps malformed percent escapes" do
    assert URL.percent_decode("100%") == "100%"
    assert URL.percent_decode("%zz%4") == "%zz%4"
    assert URL.percent_decode("a%20b+c") == "a b+c"
    assert URL.percent_decode("a%20b+c", true) == "a b c"
  end

  test "encodes" do
    assert URL.encode("a b/é~") == "a%20b%2F%C3%A9~"
    assert URL.encode_query(%{"q" => "a&b"}) == "q=a%26b"
    assert URL.decode_query(URL.encode_query([{"x y", "☃=&"}])) == %{"x y" => "☃=&"}
  end

  test "matches compiled patterns" do
    assert URL.match_segments(["users", "42"], ["users", {:param, "id"}]) == {:ok, %{"id" => "42"}}
    assert URL.match_segments(["users"], ["users", {:param, "id"}]) == :no_match
    assert URL.match_segments(["f", "a", "b"], ["f", {:glob, "p"}]) == {:ok, %{"p" => ["a", "b"]}}
    assert URL.match_segments(["x"], ["y"]) == :no_match
  end
end
