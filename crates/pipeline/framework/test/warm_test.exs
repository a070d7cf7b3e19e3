defmodule ElixirWorkers.WarmTest do
  # The isolate's start-up request (`warmIsolate` in the worker's
  # worker.js): the framework answers a head marked `warm` itself, and the
  # app is never called.
  use ExUnit.Case
  import ExUnit.CaptureIO
  alias ElixirWorkers.{Handler, JSON}

  defmodule Tripwire do
    # A router that tells the test it ran.
    def call(_conn) do
      send(:warm_test, :router_called)
      raise "the router ran"
    end
  end

  defp handle(head) do
    input = IO.iodata_to_binary([JSON.encode(head), ?\n])
    [resp_head, body] = input |> then(&Handler.handle(Tripwire, &1)) |> IO.iodata_to_binary() |> String.split("\n", parts: 2)
    {JSON.decode!(resp_head), body}
  end

  @head %{"id" => "warm", "pass" => 1, "method" => "GET", "url" => "/", "headers" => %{}, "env" => %{}}

  setup do
    Process.register(self(), :warm_test)
    :ok
  end

  test "a head marked warm is answered without calling the app" do
    {head, body} = handle(Map.put(@head, "warm", true))
    assert head["status"] == 200
    assert JSON.decode!(body) == %{"warm" => true}
    refute_received :router_called
  end

  test "the same head without the mark goes to the app" do
    for head <- [@head, Map.put(@head, "warm", "true")] do
      capture_io(:stderr, fn ->
        {resp, _body} = handle(head)
        assert resp["status"] == 500
      end)

      assert_received :router_called
    end
  end
end
