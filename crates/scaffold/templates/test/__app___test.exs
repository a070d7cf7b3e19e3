# Runs on your machine's Elixir, against the beams `elixir-workers build` wrote:
#   elixir -pa _build/ebin -pa _build/framework test/{{ app }}_test.exs
ExUnit.start()

defmodule {{ module }}Test do
  use ExUnit.Case, async: true
  alias ElixirWorkers.Conn

  defp request(method, path, body \\ "") do
    head = %{"method" => method, "url" => path, "headers" => %{"content-type" => "application/json"}}
    {{ module }}.Router.call(Conn.from_request(head, body))
  end

  test "health answers ok" do
    conn = request("GET", "/api/health")
    assert conn.status == 200
    assert IO.iodata_to_binary(conn.resp_body) == ~s({"status":"ok"})
  end

  test "a path parameter is captured" do
    conn = request("GET", "/hello/world")
    assert IO.iodata_to_binary(conn.resp_body) == ~s({"hello":"world"})
  end

  test "unknown paths answer 404" do
    assert request("GET", "/nope").status == 404
  end
end
