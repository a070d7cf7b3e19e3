defmodule Vordr.ContainerManagerTest do
  use ExUnit.Case, async: true

  alias Vordr.ContainerManager, as: M

  test "the application's manager is supervised and answers" do
    assert pid = Process.whereis(Vordr.ContainerManager)
    assert {:ok, id} = M.run(Vordr.ContainerManager, "alpine:3.19")
    assert {:ok, %{^id => "alpine:3.19"}} = M.list(Vordr.ContainerManager)
    assert :ok = M.stop(Vordr.ContainerManager, id)
    assert :ok = M.delete(Vordr.ContainerManager, id)
    assert Process.whereis(Vordr.ContainerManager) == pid
  end

  test "a private manager: lifecycle, errors, concurrent clients" do
    {:ok, m} = start_supervised({M, []})
    assert {:ok, id} = M.create(m, "nginx:latest")
    assert {:ok, json} = M.inspect_container(m, id)
    assert json =~ ~s("state":"created")
    assert :ok = M.start(m, id)
    assert {:error, :invalid_request} = M.delete(m, id)
    assert {:error, :network_error} = M.run(m, "nosuch:1")
    assert {:error, :container_not_found} = M.stop(m, "ffffffffffffffff")
    assert :ok = M.stop(m, id)
    assert :ok = M.delete(m, id)

    ids =
      1..8
      |> Task.async_stream(fn _ -> for _ <- 1..25, do: elem(M.run(m, "redis:7"), 1) end)
      |> Enum.flat_map(fn {:ok, ids} -> ids end)

    assert {:ok, listed} = M.list(m)
    assert map_size(listed) == 200
    assert Enum.sort(Map.keys(listed)) == Enum.sort(ids)
  end

  test "a manager that cannot load its guest does not start" do
    Process.flag(:trap_exit, true)
    assert {:error, {:bridge, :io_error}} = M.start_link(wasm_path: "/nonexistent.wasm")
  end

  test "a crashed manager is restarted by its supervisor with a fresh bridge" do
    {:ok, sup} = Supervisor.start_link([{M, [name: :restartable]}], strategy: :one_for_one)
    {:ok, _} = M.run(:restartable, "nginx")
    old = Process.whereis(:restartable)
    ref = Process.monitor(old)
    Process.exit(old, :kill)
    assert_receive {:DOWN, ^ref, :process, ^old, :killed}
    wait = fn wait -> Process.whereis(:restartable) || (Process.sleep(5) && wait.(wait)) end
    new = wait.(wait)
    assert new != old
    assert {:ok, %{}} = M.list(:restartable)
    Supervisor.stop(sup)
  end
end
