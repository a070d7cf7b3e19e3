defmodule Vordr.Selur.Bridge do
  @moduledoc """
  Container lifecycle operations through the selur WebAssembly guest.

  A bridge is a reference to a Rust resource (`crates/selur-nif`) holding a
  wasmtime instance of `selur.wasm` and a backend: in memory (`new/1`) or
  the real `runc` OCI runtime (`new_runc/2`). Requests and responses travel
  through the guest's linear memory; every call answers `:ok`,
  `{:ok, value}` or `{:error, reason}`, never raises for bad input, and a
  bridge used after `free/1` answers `{:error, :internal_error}`.

  Operations on an in-memory bridge run on the calling scheduler (they take
  well under a microsecond); on a runc bridge the NIF answers `:dirty` and
  the call is repeated on a dirty I/O scheduler, because it waits for
  `runc`.

      {:ok, bridge} = Vordr.Selur.Bridge.new(Vordr.Selur.Bridge.default_wasm_path())
      {:ok, id} = Vordr.Selur.Bridge.create_container(bridge, "nginx:latest")
      :ok = Vordr.Selur.Bridge.start_container(bridge, id)
      :ok = Vordr.Selur.Bridge.free(bridge)
  """

  @on_load :load_nif

  @typedoc "A bridge resource."
  @type bridge :: reference()
  @type container_id :: String.t()
  @type image_ref :: String.t()
  @typedoc """
  The five wire statuses of the guest, and `:unknown_error` for a status
  byte the host does not know (a newer or broken guest; whether the
  operation took effect is unknown, the bridge stays usable, `last_error/1`
  names the byte). Then host-side failures: the guest trapped or ran past
  its deadline (the bridge replaced its instance), hit its memory cap, the
  guest file does not exist (`:enoent`), a file or the runtime binary could
  not be used otherwise (`:io_error`), the module is not a selur guest.
  """
  @type error ::
          :invalid_request
          | :container_not_found
          | :container_already_exists
          | :network_error
          | :internal_error
          | :unknown_error
          | :trap
          | :deadline_exceeded
          | :resource_limit
          | :enoent
          | :io_error
          | :module_error

  @doc false
  def load_nif do
    path =
      case System.get_env("SELUR_NIF_PATH") do
        p when p in [nil, ""] -> Path.join(:code.priv_dir(:vordr), "libselur_nif")
        p -> String.replace_suffix(p, ".so", "")
      end

    case :erlang.load_nif(String.to_charlist(path), 0) do
      :ok ->
        :ok

      {:error, {reason, text}} ->
        IO.warn("Vordr.Selur.Bridge: could not load the NIF #{path}.so: #{reason} #{text}")
        :ok
    end
  end

  @doc "The guest module: $SELUR_WASM, else priv/selur.wasm, else the source tree's."
  @spec default_wasm_path() :: String.t()
  def default_wasm_path do
    priv = Path.join(:code.priv_dir(:vordr), "selur.wasm")

    cond do
      (p = System.get_env("SELUR_WASM")) not in [nil, ""] -> p
      File.exists?(priv) -> priv
      true -> Path.expand("../../../../../crates/selur/guest/selur.wasm", __DIR__)
    end
  end

  @doc """
  A bridge over the guest at `wasm_path` with the in-memory backend.

  A `wasm_path` that does not exist answers `{:error, :enoent}`, the atom
  `File.read/1` answers; a file that cannot be read otherwise is
  `{:error, :io_error}`, one that is not a selur guest `{:error, :module_error}`,
  and a non-binary argument `{:error, :invalid_request}`.
  """
  @spec new(String.t()) :: {:ok, bridge()} | {:error, error()}
  def new(wasm_path) when is_binary(wasm_path), do: nif_new(wasm_path)
  def new(_), do: {:error, :invalid_request}

  @doc """
  A bridge whose effects go to an OCI runtime. Options: `:images` (the
  image store directory, required), `:runtime` (default `"runc"`),
  `:stop_grace_ms` (SIGTERM to SIGKILL, default 5000). Errors loading the
  guest are those of `new/1`.
  """
  @spec new_runc(String.t(), keyword()) :: {:ok, bridge()} | {:error, error()}
  def new_runc(wasm_path, opts) when is_binary(wasm_path) and is_list(opts) do
    with images when is_binary(images) <- Keyword.get(opts, :images),
         runtime when is_binary(runtime) <- Keyword.get(opts, :runtime, "runc"),
         grace when is_integer(grace) and grace >= 0 <- Keyword.get(opts, :stop_grace_ms, 5000) do
      nif_new_runc(wasm_path, images, runtime, grace)
    else
      _ -> {:error, :invalid_request}
    end
  end

  def new_runc(_, _), do: {:error, :invalid_request}

  @doc "Drops the bridge now (a runc bridge tears its containers down). Idempotent."
  @spec free(bridge()) :: :ok | {:error, error()}
  def free(_bridge), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Size of the guest's linear memory in bytes."
  @spec memory_size(bridge()) :: {:ok, non_neg_integer()} | {:error, error()}
  def memory_size(_bridge), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Whether the bridge's backend blocks (runc), so its calls run on dirty schedulers."
  @spec blocking?(bridge()) :: {:ok, boolean()} | {:error, error()}
  def blocking?(bridge), do: nif_blocking(bridge)

  @doc "The message of the bridge's last error (`\"\"` when none yet)."
  @spec last_error(bridge()) :: {:ok, String.t()} | {:error, error()}
  def last_error(_bridge), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Creates a container from `image`; answers its generated id."
  @spec create_container(bridge(), image_ref()) :: {:ok, container_id()} | {:error, error()}
  def create_container(bridge, image) do
    case nif_create_container(bridge, image) do
      :dirty -> nif_create_container_dirty(bridge, image)
      r -> r
    end
  end

  @doc "Creates a container with a chosen id; a taken id is `:container_already_exists`."
  @spec create_container(bridge(), image_ref(), container_id()) ::
          {:ok, container_id()} | {:error, error()}
  def create_container(bridge, image, name) do
    case nif_create_named_container(bridge, image, name) do
      :dirty -> nif_create_named_container_dirty(bridge, image, name)
      r -> r
    end
  end

  @doc "Starts a created or stopped container."
  @spec start_container(bridge(), container_id()) :: :ok | {:error, error()}
  def start_container(bridge, id) do
    case nif_start_container(bridge, id) do
      :dirty -> nif_start_container_dirty(bridge, id)
      r -> r
    end
  end

  @doc "Stops a running container (SIGTERM, then SIGKILL after the grace period)."
  @spec stop_container(bridge(), container_id()) :: :ok | {:error, error()}
  def stop_container(bridge, id) do
    case nif_stop_container(bridge, id) do
      :dirty -> nif_stop_container_dirty(bridge, id)
      r -> r
    end
  end

  @doc """
  The container as JSON: id, image, state, timestamps (ms), restart count,
  and the backend's view under `runtime`.
  """
  @spec inspect_container(bridge(), container_id()) :: {:ok, String.t()} | {:error, error()}
  def inspect_container(bridge, id) do
    case nif_inspect_container(bridge, id) do
      :dirty -> nif_inspect_container_dirty(bridge, id)
      r -> r
    end
  end

  @doc "Deletes a container that is not running."
  @spec delete_container(bridge(), container_id()) :: :ok | {:error, error()}
  def delete_container(bridge, id) do
    case nif_delete_container(bridge, id) do
      :dirty -> nif_delete_container_dirty(bridge, id)
      r -> r
    end
  end

  @doc "Ids of all containers."
  @spec list_containers(bridge()) :: {:ok, [container_id()]} | {:error, error()}
  def list_containers(bridge) do
    case nif_list_containers(bridge) do
      :dirty -> nif_list_containers_dirty(bridge)
      r -> r
    end
  end

  @doc """
  Sends one raw request frame `<<command, byte_size(payload)::little-32,
  payload::binary>>`; answers the response payload for status ok, else the
  status as an error atom.
  """
  @spec send_request(bridge(), binary()) :: {:ok, binary()} | {:error, error()}
  def send_request(bridge, request) do
    case nif_send_request(bridge, request) do
      :dirty -> nif_send_request_dirty(bridge, request)
      r -> r
    end
  end

  @doc "The diagnostics echo: `payload` through guest memory and back."
  @spec echo(bridge(), binary()) :: {:ok, binary()} | {:error, error()}
  def echo(_bridge, _payload), do: :erlang.nif_error(:nif_not_loaded)

  @doc false
  def nif_new(_), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_new_runc(_, _, _, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_blocking(_), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_send_request(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_send_request_dirty(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_create_container(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_create_container_dirty(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_create_named_container(_, _, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_create_named_container_dirty(_, _, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_start_container(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_start_container_dirty(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_stop_container(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_stop_container_dirty(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_inspect_container(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_inspect_container_dirty(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_delete_container(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_delete_container_dirty(_, _), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_list_containers(_), do: :erlang.nif_error(:nif_not_loaded)
  @doc false
  def nif_list_containers_dirty(_), do: :erlang.nif_error(:nif_not_loaded)
end
