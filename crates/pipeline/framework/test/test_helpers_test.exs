defmodule ElixirWorkers.TestHelpersTest do
  # ElixirWorkers.Test, the helpers apps test themselves with: TestApp run
  # through the pass loop with fakes in place of the worker's bindings.
  # Not async: the crash test captures stderr.
  use ExUnit.Case
  import ExUnit.CaptureIO
  alias ElixirWorkers.Test, as: T

  test "a plain request answers on pass 1 with its status, headers and body" do
    resp = T.call(TestApp, T.request("GET", "/health"))
    assert resp.status == 200
    assert T.header(resp, "content-type") == "application/json"
    assert T.json(resp) == %{"status" => "ok"}
    assert resp.passes == 1
    assert resp.needs == [] and resp.effects == []
  end

  test "a router module can be called directly, and a json: body is parsed" do
    resp = T.call(TestApp.Router, T.request("post", "/echo", json: %{"a" => [1, 2]}))
    assert resp.status == 200
    assert T.json(resp) == %{"a" => [1, 2]}
  end

  test "a query string, headers and env reach the app" do
    assert T.json(T.call(TestApp, T.request("GET", "/query?q=elixir&n=2"))) == %{"q" => "elixir", "n" => "2"}
    resp = T.call(TestApp, T.request("GET", "/env/LIMIT", env: %{"LIMIT" => 50}))
    assert T.json(resp) == %{"value" => 50}
  end

  test "a KV read that depends on another takes three passes, each answered from the fake" do
    kv = %{"CACHE" => %{"pointer" => "target-key", "target-key" => "found it"}}
    resp = T.call(TestApp, T.request("GET", "/kv_chain"), kv: kv)
    assert resp.status == 200
    assert T.json(resp) == %{"pointer" => "target-key", "target" => "found it"}
    assert resp.passes == 3
    assert Enum.map(resp.needs, & &1["key"]) == ["pointer", "target-key"]
  end

  test "a key missing from the fake is a miss, and grouped bindings: work too" do
    resp = T.call(TestApp, T.request("GET", "/kv/nope"), bindings: %{kv: %{"CACHE" => %{}}})
    assert T.json(resp) == %{"key" => "nope", "value" => nil, "found" => false}
    assert resp.passes == 2
  end

  test "writes are recorded as effects, in order, with bytes decoded" do
    resp = T.call(TestApp, T.request("POST", "/kv/greeting", body: "hello"))
    assert resp.status == 202
    assert [%{"ns" => "CACHE", "key" => "greeting", "value" => "hello", "expiration_ttl" => 60}] = T.effects(resp, "kv_put")

    upload = <<0, 255, ?\n, 1>>
    resp = T.call(TestApp, T.request("PUT", "/r2/pic", body: upload, headers: %{"Content-Type" => "image/png"}))
    assert [%{"bucket" => "BUCKET", "key" => "pic", "body" => ^upload} = put] = T.effects(resp, "r2_put")
    assert put["http_metadata"] == %{"content_type" => "image/png"}

    resp = T.call(TestApp, T.request("POST", "/queue/send", json: %{"job" => 1}))
    assert [%{"queue" => "JOBS", "body" => %{"job" => 1}, "content_type" => "json"}] = T.effects(resp, "queue_send")
  end

  test "a fetch is answered by the fake function, its body through the blob area" do
    bytes = <<1, 2, 3, 0, 255>>

    resp =
      T.call(TestApp, T.request("POST", "/fetch?url=https%3A%2F%2Fapi.test%2Fx", body: "ping"),
        fetch: fn req ->
          assert req["url"] == "https://api.test/x"
          assert req["method"] == "POST"
          assert req["body"] == "ping"
          %{"status" => 201, "headers" => %{"Content-Type" => "application/x-test"}, "body" => bytes}
        end
      )

    assert resp.status == 200
    assert resp.body == bytes
    assert T.header(resp, "x-upstream-status") == "201"
    assert T.header(resp, "x-upstream-type") == "application/x-test"
    assert resp.passes == 2
  end

  test "a failed fetch reaches the route as {:error, ...} with its reason" do
    resp = T.call(TestApp, T.request("GET", "/fetch?url=https%3A%2F%2Fslow.test%2F"), fetch: fn _ -> {:error, "timeout"} end)
    assert resp.status == 502
    assert %{"error" => %{"reason" => "timeout"}} = T.json(resp)
  end

  test "KV, R2 and a fetch of one round cost one extra pass" do
    resp =
      T.call(TestApp, T.request("GET", "/round/k1?url=https%3A%2F%2Fu.test%2F"),
        kv: %{"CACHE" => %{"k1" => "v"}},
        r2: %{"BUCKET" => %{"k1" => "abcd"}},
        fetch: %{"https://u.test/" => %{"status" => 204}}
      )

    assert T.json(resp) == %{"pass" => 2, "kv" => "v", "r2_size" => 4, "fetch_status" => 204}
    assert resp.passes == 2
  end

  test "an R2 range is cut from the fake object" do
    r2 = %{"BUCKET" => %{"photo" => %{"body" => "0123456789", "custom_metadata" => %{"by" => "me"}}}}
    resp = T.call(TestApp, T.request("GET", "/r2/photo?offset=2&length=4"), r2: r2)
    assert resp.body == "2345"
    assert T.header(resp, "x-size") == "10"
    assert T.header(resp, "x-meta") == ~s({"by":"me"})
  end

  test "D1 rows come from a function of the SQL and its params" do
    d1 = %{"DB" => fn _sql, [id] -> [%{"id" => id, "name" => "Ada"}] end}
    resp = T.call(TestApp, T.request("GET", "/d1/user/7"), d1: d1)
    assert resp.status == 200
    assert T.json(resp)["row"] == %{"id" => "7", "name" => "Ada"}
  end

  test "a read with no fake raises, naming it" do
    error = assert_raise ArgumentError, fn -> T.call(TestApp, T.request("GET", "/kv/k")) end
    assert error.message =~ ~s(the KV namespace "CACHE")
  end

  test "an app that keeps asking stops after 4 passes with the worker's 500" do
    kv = %{"CACHE" => %{}}
    resp = T.call(TestApp, T.request("GET", "/kv_greedy"), kv: kv)
    assert resp.status == 500
    assert T.json(resp)["error"] == "too_many_binding_passes"
    assert resp.passes == 4
  end

  test "a crash answers 500 and logs, as in the worker" do
    log = capture_io(:stderr, fn -> send(self(), {:resp, T.call(TestApp, T.request("GET", "/crash"))}) end)
    assert_received {:resp, resp}
    assert resp.status == 500
    assert T.json(resp)["error"] == "internal_error"
    assert log =~ "boom from TestApp"
  end

  test "a Durable Object run reads its storage fake and writes through effects" do
    req = T.request("POST", "/increment") |> T.durable_object("Counter", name: "shared")
    resp = T.call(TestApp, req, storage: %{"count" => 41})
    assert resp.status == 200 and resp.body == "42"
    assert resp.passes == 2
    assert T.effects(resp, "do_storage_put") == [%{"type" => "do_storage_put", "key" => "count", "value" => 42}]

    resp = T.call(TestApp, T.request("GET", "/") |> T.durable_object("Counter", name: "fresh"), storage: %{})
    assert T.json(resp) == %{"count" => 0, "class" => "Counter", "name" => "fresh", "id" => String.duplicate("0", 64)}
  end

  test "a request to an object class the app does not define answers 500, the log naming it" do
    log =
      capture_io(:stderr, fn ->
        resp = T.call(TestApp, T.request("GET", "/") |> T.durable_object("Nope"))
        assert resp.status == 500
      end)

    assert log =~ ~s(the Durable Object class "Nope")
  end

  test "a route calls a Durable Object through the durable_objects: fake, by name or id" do
    counter = fn
      %{"name" => "shared", "method" => "POST", "path" => "/increment"} -> %{"status" => 200, "body" => "7"}
      %{"id" => "abc", "method" => "GET"} -> {:error, "invalid"}
    end

    resp = T.call(TestApp, T.request("POST", "/counter/shared"), durable_objects: %{"COUNTER" => counter})
    assert resp.status == 200 and resp.body == "7"
    assert T.header(resp, "x-pass") == "2"

    resp = T.call(TestApp, T.request("GET", "/counter_by_id/abc"), durable_objects: %{"COUNTER" => counter})
    assert resp.status == 502
    assert T.json(resp)["reason"] == "invalid"
  end

  test "a cron trigger and a queue batch run the app's event handlers" do
    resp = T.call(TestApp, T.scheduled("*/5 * * * *", scheduled_time: 1000), kv: %{"CACHE" => %{}})
    assert resp.status == 200
    assert [%{"key" => "cron-last", "value" => value}] = T.effects(resp, "kv_put")
    assert %{"cron" => "*/5 * * * *", "scheduled_time" => 1000, "previous" => nil} = ElixirWorkers.JSON.decode!(value)

    resp = T.call(TestApp, T.queue_batch("jobs", [%{"id" => "a"}]))
    assert [%{"key" => "queue-a"}] = T.effects(resp, "kv_put")
    assert [%{"type" => "queue_ack", "id" => "msg-1"}] = T.effects(resp, "queue_ack")
  end
end
