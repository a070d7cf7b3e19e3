defmodule ElixirWorkers.KV do
  @moduledoc """
  Workers KV. `namespace` is the binding name from `wrangler.jsonc`
  (`kv_namespaces[].binding`).

  Reads go through `ElixirWorkers.Bindings` (they return `nil` until the
  value has been fetched, see there). A key that does not exist is a miss:
  `get/3` returns `nil` and the route answers normally.

  Writes (`put/5`, `delete/3`) are effects: they are queued on the conn and
  run by the shim after the response has been sent (`ctx.waitUntil`), only
  if the route answered without crashing.
  """

  alias ElixirWorkers.{Bindings, Conn}

  @doc "The value of `key` as a string, or `nil` when missing."
  def get(%Conn{} = conn, namespace, key) when is_binary(namespace) and is_binary(key),
    do: Bindings.fetch(conn, %{"type" => "kv_get", "ns" => namespace, "key" => key})

  @doc """
  `%{"value" => value, "metadata" => metadata}` for `key`, or `nil` when
  missing.
  """
  def get_with_metadata(%Conn{} = conn, namespace, key)
      when is_binary(namespace) and is_binary(key) do
    case Bindings.fetch(conn, %{"type" => "kv_get_with_metadata", "ns" => namespace, "key" => key}) do
      %{"value" => nil} -> nil
      other -> other
    end
  end

  @doc """
  Lists keys: `%{"keys" => [%{"name" => ..., "metadata" => ...}], "list_complete" => bool, "cursor" => ...}`.
  `opts` may hold `"prefix"`, `"limit"` and `"cursor"`.
  """
  def list(%Conn{} = conn, namespace, opts \\ %{}) when is_binary(namespace) and is_map(opts) do
    need = %{"type" => "kv_list", "ns" => namespace}
    need = Bindings.copy_opts(opts, ["prefix", "limit", "cursor"], need)
    Bindings.fetch(conn, need)
  end

  @doc """
  Queues a write of `value` (a string) under `key`. `opts` may hold
  `"expiration_ttl"` (seconds), `"expiration"` (epoch seconds) and `"metadata"`.
  """
  def put(%Conn{} = conn, namespace, key, value, opts \\ %{})
      when is_binary(namespace) and is_binary(key) and is_binary(value) and is_map(opts) do
    effect = %{"type" => "kv_put", "ns" => namespace, "key" => key, "value" => value}
    effect = Bindings.copy_opts(opts, ["expiration_ttl", "expiration", "metadata"], effect)
    Conn.add_effect(conn, effect)
  end

  @doc "Queues the deletion of `key`."
  def delete(%Conn{} = conn, namespace, key) when is_binary(namespace) and is_binary(key),
    do: Conn.add_effect(conn, %{"type" => "kv_delete", "ns" => namespace, "key" => key})
end
