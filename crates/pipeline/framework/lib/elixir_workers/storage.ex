defmodule ElixirWorkers.Storage do
  @moduledoc """
  The transactional storage of the Durable Object a run serves (see
  `ElixirWorkers.DurableObject`): keys are strings, values any JSON value
  (maps, lists, strings, numbers, booleans).

  Reads (`get/2`, `list/2`) are reads as in `ElixirWorkers.Bindings`: `nil`
  until the worker has answered them from the object's storage, then the
  value. A missing key reads as `nil`, as it does before the answer; that
  costs nothing, since a route that got `nil` for a read not yet made is run
  again anyway.

  Writes (`put/3`, `delete/2`) are queued on the conn and applied in order
  before the object's response is returned, only when the run answered
  without crashing.
  Outside a Durable Object's run, a read fails and a write is refused.
  """

  alias ElixirWorkers.{Bindings, Conn}

  @doc "The value stored under `key`, or `nil`."
  def get(%Conn{} = conn, key) when is_binary(key),
    do: Bindings.fetch(conn, %{"type" => "do_storage_get", "key" => key})

  @doc """
  The stored entries as a map of key => value. `opts` may hold `"prefix"`, `"start"`, `"end"`, `"limit"`
  and `"reverse"` (as the platform's `storage.list`).
  """
  def list(%Conn{} = conn, opts \\ %{}) when is_map(opts) do
    need = %{"type" => "do_storage_list"}

    need =
      :lists.foldl(
        fn name, acc ->
          case :maps.find(name, opts) do
            {:ok, v} -> :maps.put(name, v, acc)
            :error -> acc
          end
        end,
        need,
        ["prefix", "start", "end", "limit", "reverse"]
      )

    Bindings.fetch(conn, need)
  end

  @doc "Queues storing `value` (any JSON value) under `key`."
  def put(%Conn{} = conn, key, value) when is_binary(key) do
    check(conn, "put")
    Conn.add_effect(conn, %{"type" => "do_storage_put", "key" => key, "value" => value})
  end

  @doc "Queues deleting `key`."
  def delete(%Conn{} = conn, key) when is_binary(key) do
    check(conn, "delete")
    Conn.add_effect(conn, %{"type" => "do_storage_delete", "key" => key})
  end

  defp check(%Conn{event: %{"type" => "durable_object"}}, _what), do: :ok

  defp check(%Conn{}, what) do
    :erlang.error(
      ElixirWorkers.Error.exception(
        "Storage." <> what <> " outside a Durable Object: only the fetch/1 of a module named in " <>
          "`use ElixirWorkers.App, durable_objects: ...` has storage"
      )
    )
  end
end
