defmodule Vordr.ContainerManager do
  @moduledoc """
  A GenServer that owns one bridge and serialises container operations on
  it, remembering which image each container came from.

  Every operation comes in two forms: with the server as first argument
  (`create(server, image)`, for a manager you started yourself), and
  without it (`create(image)`), which calls the default manager registered
  as `Vordr.ContainerManager`. `Vordr.Application` starts that one unless
  configured with `manager: false`; then start your own under the name
  with `start_link(name: Vordr.ContainerManager)`. With no manager under
  the name, the one-argument forms exit with `:noproc`, as
  `GenServer.call/3` does.

      {:ok, id} = Vordr.ContainerManager.create("nginx:latest")
      :ok = Vordr.ContainerManager.start(id)
      {:ok, %{^id => "nginx:latest"}} = Vordr.ContainerManager.list()

  Options: `:name`, `:wasm_path` (default
  `Vordr.Selur.Bridge.default_wasm_path/0`), `:backend` (`:memory` or
  `:runc`), and for runc `:images`, `:runtime`, `:stop_grace_ms`. A manager
  whose bridge cannot be made does not start: `{:error, {:bridge, reason}}`
  with a reason of `Vordr.Selur.Bridge.new/1` (`:enoent` for a missing
  guest). The bridge is freed when the server stops, which for runc tears
  down every container it still holds.
  """
  use GenServer

  alias Vordr.Selur.Bridge

  @type server :: GenServer.server()

  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    {name, opts} = Keyword.pop(opts, :name)
    GenServer.start_link(__MODULE__, opts, if(name, do: [name: name], else: []))
  end

  @doc "Creates a container from `image` on the default manager."
  @spec create(String.t()) :: {:ok, String.t()} | {:error, Bridge.error()}
  def create(image), do: create(__MODULE__, image)

  @doc "Creates a container from `image`."
  @spec create(server(), String.t()) :: {:ok, String.t()} | {:error, Bridge.error()}
  def create(server, image), do: GenServer.call(server, {:create, image}, :infinity)

  @doc "`run/2` on the default manager."
  @spec run(String.t()) :: {:ok, String.t()} | {:error, Bridge.error()}
  def run(image), do: run(__MODULE__, image)

  @doc "Creates and starts a container; a failed start deletes it again."
  @spec run(server(), String.t()) :: {:ok, String.t()} | {:error, Bridge.error()}
  def run(server, image), do: GenServer.call(server, {:run, image}, :infinity)

  @doc "Starts a created or stopped container on the default manager."
  @spec start(String.t()) :: :ok | {:error, Bridge.error()}
  def start(id), do: start(__MODULE__, id)

  @doc "Starts a created or stopped container."
  @spec start(server(), String.t()) :: :ok | {:error, Bridge.error()}
  def start(server, id), do: GenServer.call(server, {:start, id}, :infinity)

  @doc "Stops a running container on the default manager."
  @spec stop(String.t()) :: :ok | {:error, Bridge.error()}
  def stop(id), do: stop(__MODULE__, id)

  @doc "Stops a running container."
  @spec stop(server(), String.t()) :: :ok | {:error, Bridge.error()}
  def stop(server, id), do: GenServer.call(server, {:stop, id}, :infinity)

  @doc "The container as JSON (`Vordr.Selur.Bridge.inspect_container/2`), from the default manager."
  @spec inspect_container(String.t()) :: {:ok, String.t()} | {:error, Bridge.error()}
  def inspect_container(id), do: inspect_container(__MODULE__, id)

  @doc "The container as JSON (`Vordr.Selur.Bridge.inspect_container/2`)."
  @spec inspect_container(server(), String.t()) :: {:ok, String.t()} | {:error, Bridge.error()}
  def inspect_container(server, id), do: GenServer.call(server, {:inspect, id}, :infinity)

  @doc "Deletes a container that is not running, on the default manager."
  @spec delete(String.t()) :: :ok | {:error, Bridge.error()}
  def delete(id), do: delete(__MODULE__, id)

  @doc "Deletes a container that is not running."
  @spec delete(server(), String.t()) :: :ok | {:error, Bridge.error()}
  def delete(server, id), do: GenServer.call(server, {:delete, id}, :infinity)

  @doc "`list/1` of the default manager."
  @spec list() :: {:ok, %{String.t() => String.t()}} | {:error, Bridge.error()}
  def list, do: list(__MODULE__)

  @doc "Ids with their images, as the manager has recorded them."
  @spec list(server()) :: {:ok, %{String.t() => String.t()}} | {:error, Bridge.error()}
  def list(server), do: GenServer.call(server, :list, :infinity)

  @impl true
  def init(opts) do
    Process.flag(:trap_exit, true)
    wasm = Keyword.get(opts, :wasm_path, Bridge.default_wasm_path())

    result =
      case Keyword.get(opts, :backend, :memory) do
        :memory -> Bridge.new(wasm)
        :runc -> Bridge.new_runc(wasm, opts)
      end

    case result do
      {:ok, bridge} -> {:ok, %{bridge: bridge, images: %{}}}
      {:error, reason} -> {:stop, {:bridge, reason}}
    end
  end

  @impl true
  def handle_call({:create, image}, _from, s) do
    case Bridge.create_container(s.bridge, image) do
      {:ok, id} -> {:reply, {:ok, id}, put_in(s.images[id], image)}
      err -> {:reply, err, s}
    end
  end

  def handle_call({:run, image}, _from, s) do
    with {:ok, id} <- Bridge.create_container(s.bridge, image),
         :ok <- start_or_delete(s.bridge, id) do
      {:reply, {:ok, id}, put_in(s.images[id], image)}
    else
      err -> {:reply, err, s}
    end
  end

  def handle_call({:start, id}, _from, s), do: {:reply, Bridge.start_container(s.bridge, id), s}
  def handle_call({:stop, id}, _from, s), do: {:reply, Bridge.stop_container(s.bridge, id), s}

  def handle_call({:inspect, id}, _from, s),
    do: {:reply, Bridge.inspect_container(s.bridge, id), s}

  def handle_call({:delete, id}, _from, s) do
    case Bridge.delete_container(s.bridge, id) do
      :ok -> {:reply, :ok, %{s | images: Map.delete(s.images, id)}}
      err -> {:reply, err, s}
    end
  end

  def handle_call(:list, _from, s) do
    case Bridge.list_containers(s.bridge) do
      {:ok, ids} -> {:reply, {:ok, Map.new(ids, &{&1, Map.get(s.images, &1)})}, s}
      err -> {:reply, err, s}
    end
  end

  @impl true
  def terminate(_reason, s), do: Bridge.free(s.bridge)

  defp start_or_delete(bridge, id) do
    case Bridge.start_container(bridge, id) do
      :ok ->
        :ok

      err ->
        Bridge.delete_container(bridge, id)
        err
    end
  end
end
