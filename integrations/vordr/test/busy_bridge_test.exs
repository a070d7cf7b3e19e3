defmodule Vordr.Selur.BusyBridgeTest do
  # While one call holds a bridge (here a runc bridge whose runtime is a
  # script that waits for a gate file), calls on normal schedulers must not
  # wait for it there: operations retry on a dirty scheduler, and the
  # accessors reschedule themselves. With as many waiting callers as there
  # are normal schedulers, a caller that blocked its scheduler would stall
  # this test process, which opens the gate. Needs no root and no runc.
  use ExUnit.Case, async: false

  alias Vordr.Selur.Bridge

  test "calls on a busy bridge neither block normal schedulers nor answer :dirty" do
    dir = Path.join(System.tmp_dir!(), "vordr-busy-#{System.unique_integer([:positive])}")
    on_exit(fn -> File.rm_rf!(dir) end)
    File.mkdir_p!(Path.join(dir, "images/held/latest/rootfs"))
    started = Path.join(dir, "started")
    gate = Path.join(dir, "gate")
    gave_up = Path.join(dir, "gave_up")
    runtime = Path.join(dir, "fake-runc")

    # Waits up to 20 s for the gate, then fails like a runtime error.
    File.write!(runtime, """
    #!/bin/sh
    touch '#{started}'
    i=0
    while [ ! -e '#{gate}' ]; do
      i=$((i + 1))
      if [ "$i" -gt 400 ]; then touch '#{gave_up}'; exit 1; fi
      sleep 0.05
    done
    echo 'fake runtime: refused' >&2
    exit 1
    """)

    File.chmod!(runtime, 0o755)

    {:ok, b} =
      Bridge.new_runc(Bridge.default_wasm_path(),
        images: Path.join(dir, "images"),
        runtime: runtime
      )

    parent = self()
    call = fn tag, f -> spawn_link(fn -> send(parent, {tag, f.()}) end) end

    call.(:create, fn -> Bridge.create_container(b, "held") end)
    wait_for(started, 200)

    waiters = System.schedulers_online()

    for i <- 1..waiters do
      call.({:memory_size, i}, fn -> Bridge.memory_size(b) end)
    end

    call.(:echo, fn -> Bridge.echo(b, "still here") end)
    call.(:last_error, fn -> Bridge.last_error(b) end)
    call.(:blocking, fn -> Bridge.blocking?(b) end)
    call.(:list, fn -> Bridge.list_containers(b) end)

    # The bridge is held: nobody has answered yet.
    refute_receive _, 300

    # Running at all proves the waiters left the normal schedulers free.
    File.write!(gate, "")

    assert_receive {:create, {:error, :internal_error}}, 30_000

    for i <- 1..waiters do
      assert_receive {{:memory_size, ^i}, {:ok, size}}, 30_000
      assert is_integer(size) and size > 0
    end

    assert_receive {:echo, {:ok, "still here"}}, 30_000
    assert_receive {:last_error, {:ok, message}}, 30_000
    assert is_binary(message)
    assert_receive {:blocking, {:ok, true}}, 30_000
    assert_receive {:list, {:ok, []}}, 30_000
    refute File.exists?(gave_up), "the fake runtime timed out waiting for the gate"
    assert {:ok, message} = Bridge.last_error(b)
    assert message =~ "fake runtime: refused"
    assert :ok = Bridge.free(b)
  end

  defp wait_for(path, 0), do: flunk("#{path} never appeared")

  defp wait_for(path, n) do
    unless File.exists?(path) do
      Process.sleep(50)
      wait_for(path, n - 1)
    end
  end
end
