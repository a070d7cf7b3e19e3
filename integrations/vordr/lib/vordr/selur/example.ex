defmodule Vordr.Selur.Example do
  @moduledoc """
  A walk through the whole bridge API on the in-memory backend:
  `iex -S mix` in integrations/vordr, then `Vordr.Selur.Example.run()`.
  """

  alias Vordr.Selur.Bridge

  @doc "Runs the walk-through, printing each step; answers `:ok`."
  @spec run() :: :ok
  def run do
    path = Bridge.default_wasm_path()
    IO.puts("selur bridge over #{path}")
    {:ok, bridge} = Bridge.new(path)
    {:ok, size} = Bridge.memory_size(bridge)
    IO.puts("  guest memory: #{size} bytes")

    {:ok, id} = Bridge.create_container(bridge, "nginx:latest")
    IO.puts("  created #{id}")
    :ok = Bridge.start_container(bridge, id)
    IO.puts("  started #{id}")
    {:ok, ids} = Bridge.list_containers(bridge)
    IO.puts("  containers: #{Enum.join(ids, ", ")}")
    {:ok, json} = Bridge.inspect_container(bridge, id)
    IO.puts("  inspect: #{json}")

    IO.puts("  delete while running -> #{inspect(Bridge.delete_container(bridge, id))}")
    IO.puts("  unknown image -> #{inspect(Bridge.create_container(bridge, "nosuch:1"))}")
    :ok = Bridge.stop_container(bridge, id)
    IO.puts("  stopped #{id}")
    :ok = Bridge.delete_container(bridge, id)
    IO.puts("  deleted #{id}")
    IO.puts("  inspect after delete -> #{inspect(Bridge.inspect_container(bridge, id))}")

    {t, {:ok, _}} = :timer.tc(fn -> Bridge.echo(bridge, :binary.copy("x", 100)) end)
    IO.puts("  one 100-byte echo round trip: #{t} µs (first call, cold)")
    :ok = Bridge.free(bridge)
    IO.puts("  freed; memory_size now -> #{inspect(Bridge.memory_size(bridge))}")
    :ok
  end
end
