defmodule ElixirWorkers.AppTest do
  # Not async: crash tests capture stderr.
  use ExUnit.Case
  import ExUnit.CaptureIO
  import TestHelper
  alias ElixirWorkers.JSON

  defp ok(status), do: %{"ok" => status}

  test "marker and entry points exist" do
    assert TestApp.__elixir_workers_app__() == TestApp.Router
    assert function_exported?(TestApp, :start, 0)
  end

  test "health answers JSON with security headers" do
    {head, body} = call("GET", "/health")
    assert head["status"] == 200
    assert head["headers"]["content-type"] == "application/json"
    assert head["headers"]["x-content-type-options"] == "nosniff"
    assert JSON.decode!(body) == %{"status" => "ok"}
    refute Map.has_key?(head, "_effects")
  end

  test "html page" do
    {head, body} = call("GET", "/page")
    assert head["headers"]["content-type"] == "text/html; charset=utf-8"
    assert body =~ "<td>item &lt;7&gt; &amp; &quot;friends&quot;</td>"
    assert byte_size(body) in 4800..5400, "page is #{byte_size(body)} B"
  end

  test "a constant page is sent as it is" do
    {head, body} = call("GET", "/page_static")
    assert head["status"] == 200
    assert byte_size(body) in 4800..5400
    assert body =~ "<h1>Static page</h1>"
  end

  test "path params, nested params and globs" do
    assert {_, ~s({"id":"42"})} = call("GET", "/users/42")
    {_, body} = call("GET", "/users/7/posts/9")
    assert JSON.decode!(body) == %{"id" => "7", "post_id" => "9"}
    {_, body} = call("GET", "/files/a/b/c.txt")
    assert JSON.decode!(body) == %{"path" => ["a", "b", "c.txt"]}
    {_, body} = call("GET", "/users/j%C3%B6rg")
    assert JSON.decode!(body) == %{"id" => "jörg"}
  end

  test "404 and 405 with allow header" do
    {head, body} = call("GET", "/nope")
    assert head["status"] == 404
    assert JSON.decode!(body) == %{"error" => "not_found", "path" => "/nope"}

    {head, body} = call("PATCH", "/users/1")
    assert head["status"] == 405
    assert head["headers"]["allow"] == "GET, PUT"
    assert JSON.decode!(body)["allowed"] == ["GET", "PUT"]
  end

  test "HEAD falls back to GET, wildcard method routes match anything" do
    {head, _} = call("HEAD", "/health")
    assert head["status"] == 200
    assert {%{"status" => 200}, "any DELETE"} = call("DELETE", "/any")
  end

  test "query params, env, redirects, statuses, multiple cookies" do
    {_, body} = call("GET", "/query?a=1&b=two+words&c=%E2%98%83")
    assert JSON.decode!(body) == %{"a" => "1", "b" => "two words", "c" => "☃"}
    {_, body} = call("GET", "/env/APP_NAME", env: %{"APP_NAME" => "demo"})
    assert JSON.decode!(body) == %{"value" => "demo"}
    {head, ""} = call("GET", "/redirect")
    assert head["status"] == 302 and head["headers"]["location"] == "/health"
    {head, "status 201"} = call("GET", "/status/201")
    assert head["status"] == 201
    {head, _} = call("GET", "/cookies")
    assert head["headers"]["set-cookie"] == ["a=1; Path=/", "b=2; Path=/"]
  end

  test "JSON echo decodes the body and encodes it back" do
    doc = %{"name" => "café ☃", "list" => [1, 2.5, nil], "nested" => %{"q" => "\"quoted\""}}
    body = JSON.encode(doc)
    {head, out} = call("POST", "/echo", body: body, headers: %{"content-type" => "application/json"})
    assert head["status"] == 200
    assert JSON.decode!(out) == doc

    {_, out} = call("POST", "/echo_raw", body: body, headers: %{"content-type" => "application/json; charset=utf-8"})
    assert JSON.decode!(out) == %{"echo" => body, "method" => "POST", "parsed_body" => doc}
  end

  test "unicode escapes in the body arrive as UTF-8" do
    body = ~S({"s":"\u2603","e":"\u00e9","p":"\ud83d\ude00"})
    {_, out} = call("POST", "/echo", body: body, headers: %{"content-type" => "application/json"})
    assert JSON.decode!(out) == %{"s" => "☃", "e" => "é", "p" => "😀"}
    assert out =~ "☃"
  end

  test "invalid JSON body answers 400 with a JSON error, not 500" do
    {head, out} = call("POST", "/echo", body: ~s({"a":), headers: %{"content-type" => "application/json"})
    assert head["status"] == 400
    assert head["headers"]["content-type"] == "application/json"
    assert %{"error" => "invalid_json", "message" => "unexpected end of input at byte 5"} = JSON.decode!(out)

    deep = String.duplicate("[", 40) <> String.duplicate("]", 40)
    {head, out} = call("POST", "/echo", body: deep, headers: %{"content-type" => "application/json"})
    assert head["status"] == 400
    assert JSON.decode!(out)["message"] =~ "nesting deeper than 32"
  end

  test "Body.json! answers 400 when the route asks for JSON explicitly" do
    {head, out} = call("POST", "/strict_json", body: "nope")
    assert head["status"] == 400
    assert %{"error" => "invalid_json", "request_id" => "req-1"} = JSON.decode!(out)
    {head, out} = call("POST", "/strict_json", body: "[1]")
    assert head["status"] == 200 and JSON.decode!(out) == %{"got" => [1]}
  end

  test "form bodies" do
    {_, out} = call("POST", "/form", body: "a=1&b=x+y", headers: %{"content-type" => "application/x-www-form-urlencoded"})
    assert JSON.decode!(out) == %{"a" => "1", "b" => "x y"}
  end

  test "binary bodies survive byte for byte, including newlines and invalid UTF-8" do
    bytes = for(i <- 0..255, into: <<>>, do: <<i>>) <> <<0xFF, 0xFE, ?\n, ?\n, 0>>
    {head, out} = call("POST", "/binary", body: bytes)
    assert head["headers"]["content-type"] == "application/octet-stream"
    assert out == bytes
  end

  test "a crash answers 500 with the request id and logs the error with its stack trace" do
    log =
      capture_io(:stderr, fn ->
        {head, out} = call("GET", "/crash", id: "abc-123")
        send(self(), {:result, head, out})
      end)

    assert_received {:result, head, out}
    assert head["status"] == 500
    assert JSON.decode!(out) == %{"error" => "internal_error", "request_id" => "abc-123"}
    assert log =~ "[abc-123] GET /crash crashed"
    assert log =~ "** (RuntimeError) boom from TestApp"
    assert log =~ "TestApp.Router.crash/1"
  end

  test "throws, erlang errors and bad return values are crashes too" do
    for {path, text} <- [{"/throw", "** (throw) :thrown_value"}, {"/badarith", "ArithmeticError"}, {"/bad_return", ":not_a_conn"}] do
      log =
        capture_io(:stderr, fn ->
          {head, _} = call("GET", path)
          send(self(), {:status, head["status"]})
        end)

      assert_received {:status, 500}
      assert log =~ text, "#{path}: #{log}"
    end
  end

  test "logs on stdout/stderr never mix into the response" do
    {err, out} =
      with_io(fn ->
        capture_io(:stderr, fn ->
          {head, body} = call("GET", "/noisy")
          send(self(), {:r, head, body})
        end)
      end)

    assert_received {:r, %{"status" => 200}, "quiet"}
    assert out =~ "from stdout"
    assert err =~ "998"
  end

  test "malformed request heads answer 400" do
    for input <- ["", "not json\n", "[1]\n", "{\"method\":\n"] do
      out = IO.iodata_to_binary(TestApp.handle(input))
      [head, body] = :binary.split(out, "\n")
      assert JSON.decode!(head)["status"] == 400, inspect(input)
      assert JSON.decode!(body)["error"] == "bad_request"
    end
  end

  test "a large or deep binding result is read, not blamed on the client" do
    {head, ""} = call("GET", "/kv/user1")
    [%{"id" => id}] = head["_needs"]

    # Above the 10 MiB and 32-level limits a client body gets.
    big = :binary.copy("v", 11 * 1024 * 1024)
    {head, out} = call("GET", "/kv/user1", pass: 2, bindings: %{id => ok(big)})
    assert head["status"] == 200
    assert {:ok, %{"value" => ^big}} = JSON.decode(out, max_size: 12 * 1024 * 1024)

    deep = Enum.reduce(1..60, "x", fn _, acc -> %{"m" => acc} end)
    {head, _out} = call("GET", "/kv/user1", pass: 2, bindings: %{"other" => ok(deep), id => ok("alice")})
    assert head["status"] == 200
  end

  test "an unreadable head on a binding pass answers 500 naming the bindings" do
    deep = String.duplicate("[", 600) <> String.duplicate("]", 600)
    input = ~s({"id":"r1","pass":2,"method":"GET","url":"/kv/user1","bindings":{"k":{"ok":) <> deep <> "}}}\n"

    err =
      capture_io(:stderr, fn ->
        out = IO.iodata_to_binary(TestApp.handle(input))
        [head, body] = :binary.split(out, "\n")
        assert JSON.decode!(head)["status"] == 500
        body = JSON.decode!(body)
        assert body["error"] == "binding_result_unreadable"
        assert body["message"] =~ "binding results in the request head: nesting deeper than 512"
      end)

    assert err =~ "binding results unreadable"

    # The same problem without bindings is still the client's, even when a
    # variable (vars keep their JSON types) holds a "bindings" object.
    for input <- [
          ~s({"id":"r1","pass":1,"method":"GET","url":"/","x":) <> deep <> "}\n",
          ~s({"id":"r\\"1","pass":1,"env":{"V":{"bindings":{"k":) <> deep <> "}}}\n"
        ] do
      out = IO.iodata_to_binary(TestApp.handle(input))
      [head, _body] = :binary.split(out, "\n")
      assert JSON.decode!(head)["status"] == 400
    end
  end

  describe "KV" do
    test "first pass asks for the key, second pass answers" do
      {head, ""} = call("GET", "/kv/user1")
      assert [%{"type" => "kv_get", "ns" => "CACHE", "key" => "user1", "id" => id}] = head["_needs"]
      refute Map.has_key?(head, "status")

      {head, out} = call("GET", "/kv/user1", pass: 2, bindings: %{id => ok("alice")})
      assert head["status"] == 200
      assert JSON.decode!(out) == %{"key" => "user1", "value" => "alice", "found" => true}
    end

    test "a miss is a miss: nil, and the route answers normally" do
      {head, _} = call("GET", "/kv/nobody")
      [%{"id" => id}] = head["_needs"]
      {head, out} = call("GET", "/kv/nobody", pass: 2, bindings: %{id => ok(nil)})
      assert head["status"] == 200
      assert head["headers"]["content-type"] == "application/json"
      assert JSON.decode!(out) == %{"key" => "nobody", "value" => nil, "found" => false}
    end

    test "independent reads are asked for together" do
      {head, _} = call("GET", "/kv_two")
      assert [%{"key" => "a"}, %{"key" => "b"}] = head["_needs"]
    end

    test "dependent reads take one pass each" do
      {head, _} = call("GET", "/kv_chain")
      [%{"key" => "pointer", "id" => p}] = head["_needs"]
      {head, _} = call("GET", "/kv_chain", pass: 2, bindings: %{p => ok("t")})
      [%{"key" => "t", "id" => t}] = head["_needs"]
      {head, out} = call("GET", "/kv_chain", pass: 3, bindings: %{p => ok("t"), t => ok("v")})
      assert head["status"] == 200
      assert JSON.decode!(out) == %{"pointer" => "t", "target" => "v"}
    end

    test "a crash on the placeholder of the first pass is not reported" do
      {head, _} = call("GET", "/kv_crash_pass1")
      assert [%{"id" => id}] = head["_needs"]
      assert {%{"status" => 200}, "len 3"} = call("GET", "/kv_crash_pass1", pass: 2, bindings: %{id => ok("abc")})
    end

    test "a binding error answers 500 and names the binding" do
      {head, _} = call("GET", "/kv_unbound")
      [%{"id" => id}] = head["_needs"]

      log =
        capture_io(:stderr, fn ->
          {head, _} = call("GET", "/kv_unbound", pass: 2, bindings: %{id => %{"error" => "no KV namespace bound as NOT_BOUND"}})
          send(self(), {:status, head["status"]})
        end)

      assert_received {:status, 500}
      assert log =~ "binding kv_get failed: no KV namespace bound as NOT_BOUND"
    end

    test "metadata and list" do
      {head, _} = call("GET", "/kv_meta/k")
      [%{"type" => "kv_get_with_metadata", "id" => id}] = head["_needs"]
      {_, out} = call("GET", "/kv_meta/k", pass: 2, bindings: %{id => ok(%{"value" => "v", "metadata" => %{"m" => 1}})})
      assert JSON.decode!(out) == %{"result" => %{"value" => "v", "metadata" => %{"m" => 1}}}
      {_, out} = call("GET", "/kv_meta/k", pass: 2, bindings: %{id => ok(%{"value" => nil, "metadata" => nil})})
      assert JSON.decode!(out) == %{"result" => nil}

      {head, _} = call("GET", "/kv_list?prefix=u:")
      [%{"type" => "kv_list", "prefix" => "u:", "id" => id}] = head["_needs"]
      listing = %{"keys" => [%{"name" => "u:1"}], "list_complete" => true}
      {_, out} = call("GET", "/kv_list?prefix=u:", pass: 2, bindings: %{id => ok(listing)})
      assert JSON.decode!(out) == listing
    end

    test "writes are effects in the response" do
      {head, out} = call("POST", "/kv/k1", body: "v1")
      assert head["status"] == 202
      assert JSON.decode!(out) == %{"stored" => "k1"}
      assert head["_effects"] == [%{"type" => "kv_put", "ns" => "CACHE", "key" => "k1", "value" => "v1", "expiration_ttl" => 60}]
      {head, _} = call("DELETE", "/kv/k1")
      assert head["_effects"] == [%{"type" => "kv_delete", "ns" => "CACHE", "key" => "k1"}]
    end
  end

  describe "D1" do
    test "query by two passes" do
      {head, _} = call("GET", "/d1/users")
      [%{"type" => "d1_query", "db" => "DB", "params" => [0], "id" => id} = need] = head["_needs"]
      assert need["sql"] =~ "SELECT"
      rows = [%{"id" => 1, "name" => "a"}]
      {_, out} = call("GET", "/d1/users", pass: 2, bindings: %{id => ok(rows)})
      assert JSON.decode!(out) == %{"rows" => rows}
    end

    test "query_one gives the first row or nil" do
      {head, _} = call("GET", "/d1/user/5")
      [%{"params" => ["5"], "id" => id}] = head["_needs"]
      {_, out} = call("GET", "/d1/user/5", pass: 2, bindings: %{id => ok([])})
      assert JSON.decode!(out) == %{"row" => nil}
    end

    test "exec and batch are effects" do
      {head, _} = call("POST", "/d1/users", body: ~s({"name":"z"}), headers: %{"content-type" => "application/json"})
      assert [%{"type" => "d1_exec", "db" => "DB", "params" => ["z"]}] = head["_effects"]
      {head, "batched"} = call("POST", "/d1/batch")
      assert [%{"type" => "d1_batch", "statements" => [%{"params" => ["x"]}, %{"params" => ["y"]}]}] = head["_effects"]
    end
  end
end
