# `elixir-workers test` compiles the app and runs this on your machine's
# Elixir, with the app and the framework on the code path.
defmodule Acme.ShopTest do
  use ExUnit.Case, async: true

  # request/3 builds a request, call/3 runs it through the app as the worker
  # does, json/1 decodes a response body. See ElixirWorkers.Test for the
  # fakes a route that reads bindings needs, e.g.
  #   call(Acme.Shop, request("GET", "/users/1"), kv: %{"USERS" => %{"1" => "Ada"}})
  # and effects/2 for the writes it queued (KV puts, R2 puts, queue sends).
  import ElixirWorkers.Test

  test "health answers ok" do
    resp = call(Acme.Shop, request("GET", "/api/health"))
    assert resp.status == 200
    assert json(resp) == %{"status" => "ok"}
  end

  test "a path parameter is captured" do
    assert json(call(Acme.Shop, request("GET", "/hello/world"))) == %{"hello" => "world"}
  end

  test "a JSON body is parsed" do
    resp = call(Acme.Shop, request("POST", "/api/echo", json: %{"n" => 1}))
    assert json(resp) == %{"method" => "POST", "body" => %{"n" => 1}}
  end

  test "unknown paths answer 404" do
    assert call(Acme.Shop, request("GET", "/nope")).status == 404
  end
end
