defmodule Vordr.ContainerManagerTest do
  # The default manager is one registered name shared by the whole VM, so
  # these tests do not run alongside others.
  use ExUnit.Case, async: false

  alias Vordr.ContainerManager, as: M

  test "the application's manager is supervised and answers" do
    assert pid = Process.whereis(Vordr.ContainerManager)
    assert {:ok, id} = M.run(Vordr.ContainerManager, "alpine:3.19")
    assert {:ok, %{^id => "alpine:3.19"}} = M.list(Vordr.ContainerManager)
    assert :ok = M.stop(Vordr.ContainerManager, id)
    assert :ok = M.delete(Vordr.ContainerManager, id)
    assert Process.whereis(Vordr.ContainerManager) == pid
  end

  test "the one-argument forms call the default manager" do
    assert pid = Process.whereis(Vordr.ContainerManager)
    assert {:ok, id} = M.create("nginx:latest")
    assert {:ok, json} = M.inspect_container(id)
    assert json =~ ~s("state":"created")
    assert :ok = M.start(id)
    assert {:error, :invalid_request} = M.delete(id)
    assert {:ok, %{^id => "nginx:latest"}} = M.list()
    # The same server as the explicit form with its name.
    assert M.list() == M.list(Vordr.ContainerManager)
    assert {:ok, json} = M.inspect_container(Vordr.ContainerManager, id)
    assert json =~ ~s("state":"running")
    assert :ok = M.stop(id)
    assert :ok = M.delete(id)
    refute Map.has_key?(elem(M.list(), 1), id)

    assert {:ok, id2} = M.run("redis:7")
    assert {:ok, %{^id2 => "redis:7"}} = M.list()
    assert {:error, :network_error} = M.run("nosuch:1")
    assert {:error, :network_error} = M.create("nosuch:1")
    assert {:error, :container_not_found} = M.start("ffffffffffffffff")
    assert {:error, :container_not_found} = M.stop("ffffffffffffffff")
    assert {:error, :container_not_found} = M.inspect_container("ffffffffffffffff")
    assert {:error, :container_not_found} = M.delete("ffffffffffffffff")
    assert :ok = M.stop(id2)
    assert :ok = M.delete(id2)
    assert Process.whereis(Vordr.ContainerManager) == pid
  end

  test "one-argument forms reach a default manager started by hand" do
    # With the application's manager stopped, one started under the name
    # (as with `config :vordr, manager: false`) serves the default forms,
    # and with none registered they exit with :noproc.
    :ok = Supervisor.terminate_child(Vordr.Supervisor, Vordr.ContainerManager)

    try do
      assert {:noproc, _} = catch_exit(M.list())
      {:ok, own} = M.start_link(name: Vordr.ContainerManager)
      assert {:ok, id} = M.create("busybox")
      assert {:ok, %{^id => "busybox"}} = M.list()
      assert Process.whereis(Vordr.ContainerManager) == own
    after
      if own = Process.whereis(Vordr.ContainerManager), do: GenServer.stop(own)
      {:ok, _} = Supervisor.restart_child(Vordr.Supervisor, Vordr.ContainerManager)
    end

    assert {:ok, %{}} = M.list()
  end

  test "a manager over a guest with an unknown status answers :unknown_error" do
    path = Path.expand("fixtures/unknown_status.wasm", __DIR__)
    {:ok, m} = start_supervised({M, [wasm_path: path]})
    assert {:error, :unknown_error} = M.create(m, "nginx")
    assert {:error, :unknown_error} = M.run(m, "nginx")
    assert {:error, :unknown_error} = M.list(m)
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
    assert {:error, {:bridge, :enoent}} = M.start_link(wasm_path: "/nonexistent.wasm")
    assert {:error, {:bridge, :io_error}} = M.start_link(wasm_path: System.tmp_dir!())
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
