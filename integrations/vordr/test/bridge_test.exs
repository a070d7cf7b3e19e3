defmodule Vordr.Selur.BridgeTest do
  use ExUnit.Case, async: true

  alias Vordr.Selur.Bridge

  setup do
    {:ok, bridge} = Bridge.new(Bridge.default_wasm_path())
    on_exit(fn -> Bridge.free(bridge) end)
    %{bridge: bridge}
  end

  defp decode_field(json, key) do
    # No JSON library without deps: pull one scalar field out by pattern.
    case Regex.run(~r/"#{key}":("([^"]*)"|[^,}]+)/, json) do
      [_, _, str] when str != "" -> str
      [_, raw] -> raw
      [_, raw, _] -> raw
    end
  end

  test "whole lifecycle", %{bridge: b} do
    assert {:ok, size} = Bridge.memory_size(b)
    assert size >= 131_072 and rem(size, 65_536) == 0
    assert {:ok, false} = Bridge.blocking?(b)
    assert {:ok, []} = Bridge.list_containers(b)

    assert {:ok, id} = Bridge.create_container(b, "nginx:latest")
    assert byte_size(id) == 16
    assert {:ok, json} = Bridge.inspect_container(b, id)
    assert decode_field(json, "state") == "created"
    assert decode_field(json, "image") == "nginx:latest"
    assert decode_field(json, "started_at_ms") == "null"

    assert :ok = Bridge.start_container(b, id)
    assert {:ok, json} = Bridge.inspect_container(b, id)
    assert decode_field(json, "state") == "running"
    assert json =~ ~s("runtime":{"backend":"memory")

    assert {:ok, [^id]} = Bridge.list_containers(b)
    assert :ok = Bridge.stop_container(b, id)
    assert :ok = Bridge.start_container(b, id)
    assert {:ok, json} = Bridge.inspect_container(b, id)
    assert decode_field(json, "restart_count") == "1"
    assert :ok = Bridge.stop_container(b, id)
    assert :ok = Bridge.delete_container(b, id)
    assert {:ok, []} = Bridge.list_containers(b)
  end

  test "every error atom", %{bridge: b} do
    # invalid_request: bad arguments, wrong state, non-binaries, bad frames
    assert {:error, :invalid_request} = Bridge.create_container(b, "")
    assert {:error, :invalid_request} = Bridge.create_container(b, "bad image")
    assert {:error, :invalid_request} = Bridge.create_container(b, <<0xFF, 0xFE>>)
    assert {:error, :invalid_request} = Bridge.create_container(b, :nginx)
    assert {:error, :invalid_request} = Bridge.start_container(b, "../x")
    assert {:error, :invalid_request} = Bridge.send_request(b, <<1, 2>>)
    assert {:error, :invalid_request} = Bridge.send_request(b, <<99, 0::little-32>>)
    assert {:error, :invalid_request} = Bridge.new(42)
    assert {:error, :invalid_request} = Bridge.memory_size(make_ref())
    {:ok, id} = Bridge.create_container(b, "redis:7")
    assert {:error, :invalid_request} = Bridge.stop_container(b, id)
    :ok = Bridge.start_container(b, id)
    assert {:error, :invalid_request} = Bridge.start_container(b, id)
    assert {:error, :invalid_request} = Bridge.delete_container(b, id)

    # container_not_found
    for f <- [
          &Bridge.start_container/2,
          &Bridge.stop_container/2,
          &Bridge.inspect_container/2,
          &Bridge.delete_container/2
        ] do
      assert {:error, :container_not_found} = f.(b, "0000000000000000")
    end

    # every failing call leaves its own message for last_error/1
    {:ok, id2} = Bridge.create_container(b, "redis:7")
    assert {:error, :invalid_request} = Bridge.stop_container(b, id2)
    {:ok, stop_message} = Bridge.last_error(b)
    assert {:error, :container_not_found} = Bridge.delete_container(b, "00000000000000ff")
    {:ok, delete_message} = Bridge.last_error(b)
    assert delete_message != stop_message
    assert delete_message =~ "00000000000000ff"

    # container_already_exists
    assert {:ok, "web"} = Bridge.create_container(b, "nginx", "web")
    assert {:error, :container_already_exists} = Bridge.create_container(b, "nginx", "web")

    # network_error
    assert {:error, :network_error} = Bridge.create_container(b, "not-in-catalogue:9")

    # enoent / io_error / module_error on load: a missing file is :enoent,
    # as File.read/1 answers; any other read failure stays :io_error
    assert {:error, :enoent} = Bridge.new("/nonexistent/selur.wasm")
    assert {:error, :enoent} = File.read("/nonexistent/selur.wasm")

    assert {:error, :enoent} =
             Bridge.new_runc("/nonexistent/selur.wasm", images: System.tmp_dir!())

    assert {:error, :io_error} = Bridge.new(System.tmp_dir!())
    path = Path.join(System.tmp_dir!(), "not-wasm-#{System.unique_integer([:positive])}")
    File.write!(path, "garbage")
    assert {:error, :module_error} = Bridge.new(path)
    File.rm!(path)

    # internal_error: use after free, on every call
    {:ok, other} = Bridge.new(Bridge.default_wasm_path())
    assert :ok = Bridge.free(other)
    assert :ok = Bridge.free(other)
    assert {:error, :internal_error} = Bridge.memory_size(other)
    assert {:error, :internal_error} = Bridge.create_container(other, "nginx")
    assert {:error, :internal_error} = Bridge.create_container(other, "nginx", "n")
    assert {:error, :internal_error} = Bridge.start_container(other, "x")
    assert {:error, :internal_error} = Bridge.stop_container(other, "x")
    assert {:error, :internal_error} = Bridge.inspect_container(other, "x")
    assert {:error, :internal_error} = Bridge.delete_container(other, "x")
    assert {:error, :internal_error} = Bridge.list_containers(other)
    assert {:error, :internal_error} = Bridge.send_request(other, <<6, 0::little-32>>)
    assert {:error, :internal_error} = Bridge.echo(other, "x")
    assert {:error, :internal_error} = Bridge.blocking?(other)
  end

  test "a status byte the host does not know is :unknown_error" do
    # fixtures/unknown_status.wasm answers every request with status 42;
    # its source is unknown_status.wat beside it.
    path = Path.expand("fixtures/unknown_status.wasm", __DIR__)
    assert {:ok, b} = Bridge.new(path)
    assert {:error, :unknown_error} = Bridge.create_container(b, "nginx")
    assert {:ok, message} = Bridge.last_error(b)
    assert message =~ "status 42"
    assert message =~ "from the future"
    assert {:error, :unknown_error} = Bridge.create_container(b, "nginx", "web")
    assert {:error, :unknown_error} = Bridge.start_container(b, "0000000000000000")
    assert {:error, :unknown_error} = Bridge.stop_container(b, "0000000000000000")
    assert {:error, :unknown_error} = Bridge.inspect_container(b, "0000000000000000")
    assert {:error, :unknown_error} = Bridge.delete_container(b, "0000000000000000")
    assert {:error, :unknown_error} = Bridge.list_containers(b)
    assert {:error, :unknown_error} = Bridge.echo(b, "x")
    assert {:error, :unknown_error} = Bridge.send_request(b, <<6, 0::little-32>>)
    assert {:ok, "unknown_error: guest answered status 42" <> _} = Bridge.last_error(b)
    # The bridge is not broken by it.
    assert {:ok, size} = Bridge.memory_size(b)
    assert size == 65_536
    assert :ok = Bridge.free(b)
  end

  test "raw frames and echo", %{bridge: b} do
    assert {:ok, ""} = Bridge.send_request(b, <<6, 0::little-32>>)
    payload = :crypto.strong_rand_bytes(10_000)

    assert {:ok, ^payload} =
             Bridge.send_request(b, <<7, byte_size(payload)::little-32, payload::binary>>)

    assert {:ok, ^payload} = Bridge.echo(b, payload)
    assert {:ok, ""} = Bridge.echo(b, "")
    assert {:ok, id} = Bridge.send_request(b, <<1, 7::little-32, "busybox">>)
    assert {:ok, [^id]} = Bridge.list_containers(b)
  end

  test "random binaries never crash the VM", %{bridge: b} do
    for i <- 1..3_000 do
      bin = :crypto.strong_rand_bytes(rem(i, 97))

      frame =
        if rem(i, 2) == 0 and byte_size(bin) >= 1 do
          <<cmd, rest::binary>> = bin
          <<rem(cmd, 9), byte_size(rest)::little-32, rest::binary>>
        else
          bin
        end

      assert match?({:ok, _}, Bridge.send_request(b, frame)) or
               match?({:error, a} when is_atom(a), Bridge.send_request(b, frame))

      assert {:error, _} = Bridge.start_container(b, bin) |> wrap()
      assert {:error, _} = Bridge.inspect_container(b, bin)
      r = Bridge.create_container(b, bin)
      assert match?({:ok, _}, r) or match?({:error, _}, r)
    end

    assert {:ok, "alive"} = Bridge.echo(b, "alive")
  end

  defp wrap(:ok), do: {:error, :unexpected_ok}
  defp wrap(other), do: other

  test "concurrent callers on one bridge", %{bridge: b} do
    ids =
      1..16
      |> Task.async_stream(
        fn _ ->
          for _ <- 1..50 do
            {:ok, id} = Bridge.create_container(b, "busybox")
            :ok = Bridge.start_container(b, id)
            {:ok, _} = Bridge.inspect_container(b, id)
            {:ok, "ping"} = Bridge.echo(b, "ping")
            :ok = Bridge.stop_container(b, id)
            id
          end
        end,
        max_concurrency: 16
      )
      |> Enum.flat_map(fn {:ok, ids} -> ids end)

    assert length(Enum.uniq(ids)) == 800
    {:ok, listed} = Bridge.list_containers(b)
    assert Enum.sort(listed) == Enum.sort(ids)
    Enum.each(ids, fn id -> :ok = Bridge.delete_container(b, id) end)
    assert {:ok, []} = Bridge.list_containers(b)
  end

  test "bridges are independent and collected when unreferenced" do
    {:ok, a} = Bridge.new(Bridge.default_wasm_path())
    {:ok, c} = Bridge.new(Bridge.default_wasm_path())
    {:ok, _} = Bridge.create_container(a, "nginx")
    assert {:ok, []} = Bridge.list_containers(c)
    # A bridge dropped without free/1 is released by the resource destructor.
    pid = spawn(fn -> {:ok, _} = Bridge.new(Bridge.default_wasm_path()) end)
    ref = Process.monitor(pid)
    assert_receive {:DOWN, ^ref, :process, ^pid, :normal}, 10_000
    :erlang.garbage_collect()
  end
end
