defmodule ElixirWorkers.PlatformTest do
  # The Workers platform from the app's side, on the BEAM: outbound fetch,
  # R2, queues, cron and queue events, typed env. The worker's side of each
  # is played by hand: pass 1's needs are answered the way bindings.js
  # answers them, bytes in the blob area after the body.
  # Not async: the crash tests capture stderr.
  use ExUnit.Case
  import ExUnit.CaptureIO
  import TestHelper
  alias ElixirWorkers.JSON

  defp needs_of({head, ""}), do: head["_needs"]

  # Answers every need of pass 1 with `answer.(need)` ({:ok, value} with
  # bytes given as {:bytes, bin}, or {:error, map}) and runs pass 2.
  defp second_pass(method, url, answer, opts \\ []) do
    needs = needs_of(call(method, url, opts))
    assert is_list(needs) and needs != []

    {bindings, blobs} =
      Enum.reduce(needs, {%{}, ""}, fn need, {acc, blobs} ->
        {result, blobs} =
          case answer.(need) do
            {:ok, value} ->
              {value, blobs} = place_bytes(value, blobs)
              {%{"ok" => value}, blobs}

            {:error, error} ->
              {error, blobs}
          end

        {Map.put(acc, need["id"], result), blobs}
      end)

    {needs, call(method, url, Keyword.merge(opts, pass: 2, bindings: bindings, blobs: blobs))}
  end

  defp place_bytes(%{} = map, blobs) do
    Enum.reduce(map, {%{}, blobs}, fn {k, v}, {acc, blobs} ->
      {v, blobs} = place_bytes(v, blobs)
      {Map.put(acc, k, v), blobs}
    end)
  end

  defp place_bytes({:bytes, bin}, blobs), do: {[byte_size(blobs), byte_size(bin)], blobs <> bin}
  defp place_bytes(v, blobs), do: {v, blobs}

  @binary <<0, 1, 2, 10, 255, 254, ?\n, 0xC3>> <> "tail"

  describe "Fetch" do
    test "a fetch is a need; its body comes back byte for byte from the blob area" do
      upstream = "https://upstream.test/data"

      {needs, {head, body}} =
        second_pass(
          "POST",
          "/fetch?url=" <> URI.encode_www_form(upstream) <> "&timeout_ms=250",
          fn need ->
            assert need["type"] == "fetch"
            {:ok,
             %{
               "status" => 201,
               "headers" => %{"content-type" => "application/x-test", "set-cookie" => ["a=1", "b=2"]},
               "url" => need["url"],
               "body" => {:bytes, @binary}
             }}
          end,
          body: "payload \xff\x00"
        )

      assert [need] = needs
      assert need["url"] == upstream
      assert need["method"] == "POST"
      assert need["timeout_ms"] == 250
      assert need["headers"] == %{"x-from" => "elixir-workers"}
      assert Base.decode64!(need["body_base64"]) == "payload \xff\x00"
      assert head["status"] == 200
      assert head["headers"]["x-upstream-status"] == "201"
      assert head["headers"]["x-upstream-type"] == "application/x-test"
      assert head["headers"]["x-upstream-cookies"] == "2"
      assert head["headers"]["x-pass"] == "2"
      assert body == @binary
    end

    test "the same request is the same need on every pass; another method is another need" do
      url = "/fetch?url=https%3A%2F%2Fu.test%2F"
      [get] = needs_of(call("GET", url))
      [get_again] = needs_of(call("GET", url))
      [post] = needs_of(call("POST", url, body: "x"))
      assert get["id"] == get_again["id"]
      assert get["id"] != post["id"]
      refute Map.has_key?(get, "body_base64")
    end

    test "a failed fetch is handed to the route with its reason" do
      {_, {head, body}} =
        second_pass("GET", "/fetch?url=https%3A%2F%2Fslow.test%2F", fn _ ->
          {:error, %{"error" => "fetch GET https://slow.test/: no complete answer within 100 ms", "reason" => "timeout"}}
        end)

      assert head["status"] == 502
      assert %{"error" => %{"reason" => "timeout", "error" => msg}, "pass" => 2} = JSON.decode!(body)
      assert msg =~ "within 100 ms"
    end

    test "request!/3 raises naming the URL and the reason" do
      conn = %ElixirWorkers.Conn{
        bindings: %{
          ElixirWorkers.Bindings.need_id(%{"type" => "fetch", "url" => "https://x.test/", "method" => "GET"}) => %{
            "error" => "refused",
            "reason" => "network"
          }
        }
      }

      error = assert_raise ElixirWorkers.Error, fn -> ElixirWorkers.Fetch.request!(conn, "https://x.test/") end
      assert error.message == "fetch https://x.test/ failed (network): refused"
    end

    test "several fetches of one round are asked for in one pass" do
      {head, _} = call("GET", "/fetch_many?n=3&url=https%3A%2F%2Fu.test%2F")
      assert length(head["_needs"]) == 3
      assert Enum.map(head["_needs"], & &1["url"]) == for(i <- 1..3, do: "https://u.test/?i=#{i}")
    end
  end

  describe "one round of KV, R2 and fetch" do
    test "is one pass of needs, answered on pass 2" do
      {needs, {head, body}} =
        second_pass("GET", "/round/k1?url=https%3A%2F%2Fu.test%2F", fn
          %{"type" => "kv_get"} -> {:ok, "kv value"}
          %{"type" => "r2_get"} -> {:ok, %{"key" => "k1", "size" => 3, "body" => {:bytes, "abc"}}}
          %{"type" => "fetch"} -> {:ok, %{"status" => 204, "headers" => %{}, "body" => {:bytes, ""}}}
        end)

      assert Enum.sort(Enum.map(needs, & &1["type"])) == ["fetch", "kv_get", "r2_get"]
      assert head["status"] == 200
      assert JSON.decode!(body) == %{"pass" => 2, "kv" => "kv value", "r2_size" => 3, "fetch_status" => 204}
    end
  end

  describe "R2" do
    test "get with a range, the object's bytes from the blob area" do
      {[need], {head, body}} =
        second_pass("GET", "/r2/photo?offset=2&length=4", fn _ ->
          {:ok,
           %{
             "key" => "photo",
             "size" => 10,
             "etag" => "e1",
             "http_metadata" => %{"content_type" => "image/png"},
             "custom_metadata" => %{"by" => "t"},
             "range" => %{"offset" => 2, "length" => 4},
             "body" => {:bytes, <<2, 3, 255, 0>>}
           }}
        end)

      assert need == %{
               "id" => need["id"],
               "type" => "r2_get",
               "bucket" => "BUCKET",
               "key" => "photo",
               "range" => %{"offset" => 2, "length" => 4}
             }

      assert head["headers"]["content-type"] == "image/png"
      assert head["headers"]["x-size"] == "10"
      assert body == <<2, 3, 255, 0>>
    end

    test "a miss is nil, not an error" do
      {_, {head, _}} = second_pass("GET", "/r2/none", fn _ -> {:ok, nil} end)
      assert head["status"] == 404
    end

    test "put and delete are effects; put carries the bytes as base64" do
      {head, _} =
        call("PUT", "/r2/blob", body: @binary, headers: %{"content-type" => "application/x-bin"})

      assert head["status"] == 202
      assert [put] = head["_effects"]
      assert put["type"] == "r2_put" and put["bucket"] == "BUCKET" and put["key"] == "blob"
      assert Base.decode64!(put["body_base64"]) == @binary
      assert put["http_metadata"] == %{"content_type" => "application/x-bin"}
      assert put["custom_metadata"] == %{"by" => "test-app"}

      {head, _} = call("DELETE", "/r2/blob")
      assert head["_effects"] == [%{"type" => "r2_delete", "bucket" => "BUCKET", "keys" => "blob"}]
    end

    test "the request body ends where the head says; blobs after it are not the body" do
      {_, body} = call("POST", "/binary", body: "own body", blobs: "not the body")
      assert body == "own body"
    end
  end

  describe "Queue" do
    test "send and send_batch are effects with their content types" do
      {head, _} = call("POST", "/queue/send", body: ~s({"id":"m1"}), headers: %{"content-type" => "application/json"})
      assert head["_effects"] == [%{"type" => "queue_send", "queue" => "JOBS", "body" => %{"id" => "m1"}, "content_type" => "json"}]

      {head, _} = call("POST", "/queue/send?bytes=1", body: @binary)
      assert [%{"content_type" => "bytes", "body_base64" => b64}] = head["_effects"]
      assert Base.decode64!(b64) == @binary

      {head, _} =
        call("POST", "/queue/batch", body: ~s([{"id":"a"},"plain text"]), headers: %{"content-type" => "application/json"})

      assert head["_effects"] == [
               %{
                 "type" => "queue_send_batch",
                 "queue" => "JOBS",
                 "messages" => [
                   %{"body" => %{"id" => "a"}, "content_type" => "json"},
                   %{"body" => "plain text", "content_type" => "text"}
                 ]
               }
             ]
    end

    test "a consumer gets the batch, bytes bodies resolved, and answers with verdicts and writes" do
      event = %{
        "type" => "queue",
        "queue" => "jobs",
        "messages" => [
          %{"id" => "1", "timestamp" => 1, "attempts" => 1, "body" => %{"id" => "a"}},
          %{"id" => "2", "timestamp" => 1, "attempts" => 1, "body" => %{"id" => "b", "retry_once" => true}},
          %{"id" => "3", "timestamp" => 1, "attempts" => 1, "body_bytes" => [0, 3]}
        ]
      }

      {head, _} = call_event(event, blobs: <<1, 2, 255>>)
      assert head["status"] == 200

      assert head["_effects"] == [
               %{"type" => "kv_put", "ns" => "CACHE", "key" => "queue-a", "value" => ~s({"attempts":1,"body":{"id":"a"},"queue":"jobs"})},
               %{"type" => "queue_ack", "id" => "1"},
               %{"type" => "queue_retry", "id" => "2"},
               %{"type" => "kv_put", "ns" => "CACHE", "key" => "queue-bytes", "value" => "0102ff"},
               %{"type" => "queue_ack", "id" => "3"}
             ]
    end
  end

  describe "scheduled" do
    test "a cron event reads over passes and writes what it saw" do
      event = %{"type" => "scheduled", "cron" => "*/5 * * * *", "scheduled_time" => 1_700_000_000_000}
      {head, ""} = call_event(event)
      assert [%{"type" => "kv_get", "key" => "cron-last"} = need] = head["_needs"]

      {head, _} = call_event(event, pass: 2, bindings: %{need["id"] => %{"ok" => nil}})
      assert head["status"] == 200
      assert [%{"type" => "kv_put", "key" => "cron-last", "value" => value}] = head["_effects"]

      assert JSON.decode!(value) == %{
               "cron" => "*/5 * * * *",
               "scheduled_time" => 1_700_000_000_000,
               "pass" => 2,
               "previous" => nil
             }
    end

    test "a crashing cron handler answers 500 and logs the crash" do
      event = %{"type" => "scheduled", "cron" => "crash", "scheduled_time" => 0}

      log =
        capture_io(:stderr, fn ->
          {head, _} = call_event(event, pass: 2, bindings: %{ElixirWorkers.Bindings.need_id(%{"type" => "kv_get", "ns" => "CACHE", "key" => "cron-last"}) => %{"ok" => nil}})
          assert head["status"] == 500
        end)

      assert log =~ "scheduled crash crashed"
      assert log =~ "cron crash requested"
    end

    test "an app without a handler for the event says how to add one" do
      log =
        capture_io(:stderr, fn ->
          out = ElixirWorkers.Handler.handle(TestApp.Router, request(nil, nil, event: %{"type" => "scheduled", "cron" => "x"}))
          assert IO.iodata_to_binary(out) =~ ~s("status":500)
        end)

      assert log =~ "the app has no scheduled handler: name one in `use ElixirWorkers.App, scheduled: MyApp.Module`"
    end
  end

  describe "env" do
    test "variables keep their JSON types" do
      env = %{"N" => 42, "F" => 1.5, "B" => false, "OBJ" => %{"a" => [1, "x"]}, "S" => "text"}

      for {name, value} <- env do
        {_, body} = call("GET", "/env/" <> name, env: env)
        assert JSON.decode!(body) == %{"value" => value}, name
      end
    end
  end
end
