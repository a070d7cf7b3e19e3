defmodule ElixirWorkers.Bindings do
  @moduledoc """
  Reads from Cloudflare bindings (KV, D1) by passes.

  A worker cannot call its bindings from inside the VM, so a read works like
  this: the first time a route asks for a value the framework records a
  *need* and the read returns `nil`; when the route finishes, the framework
  answers the shim with the list of needs instead of a response, the shim
  fulfils all of them in parallel and runs the request again with the
  results in `conn.bindings`. On that pass the same read finds its result and
  returns it. A pass whose route asked for anything not yet fetched is
  discarded, even if the route crashed (it may have crashed on a placeholder
  `nil`). The shim stops after a bounded number of passes.

  Needs are recorded in the process dictionary of the request process, so a
  read does not have to thread the conn back to the caller.

  Each result arrives as `{"ok": value}` or `{"error": message}`; an error
  raises an `ElixirWorkers.Error` in the route
  (the request answers 500 and the message is logged).
  """

  alias ElixirWorkers.{Conn, JSON}

  @needs_key :elixir_workers_needs

  @doc false
  def reset, do: :erlang.put(@needs_key, [])

  @doc false
  def take_needs do
    case :erlang.erase(@needs_key) do
      :undefined -> []
      needs -> :lists.reverse(needs)
    end
  end

  @doc """
  Returns the result for `need` (a map with at least `"type"`), or records the
  need and returns `nil` when it has not been fetched yet.
  """
  def fetch(%Conn{bindings: bindings}, need) when is_map(need) do
    id = need_id(need)

    case :maps.find(id, bindings) do
      {:ok, %{"ok" => value}} ->
        value

      {:ok, %{"error" => message}} ->
        :erlang.error(
          ElixirWorkers.Error.exception(
            "binding " <> :maps.get("type", need) <> " failed: " <> to_message(message)
          )
        )

      {:ok, _other} ->
        :erlang.error(ElixirWorkers.Error.exception("malformed binding result for " <> id))

      :error ->
        record(:maps.put("id", id, need))
        nil
    end
  end

  defp to_message(m) when is_binary(m), do: m
  defp to_message(m), do: JSON.encode(m)

  defp record(need) do
    case :erlang.get(@needs_key) do
      :undefined -> :erlang.put(@needs_key, [need])
      needs -> if already?(needs, need), do: :ok, else: :erlang.put(@needs_key, [need | needs])
    end
  end

  defp already?([], _need), do: false
  defp already?([%{"id" => id} | _], %{"id" => id}), do: true
  defp already?([_ | rest], need), do: already?(rest, need)

  @doc """
  The id of a need: the JSON of its fields sorted by name, so the same read
  on the next pass finds its result and two different reads never share one.
  """
  def need_id(need) do
    pairs = :lists.sort(:maps.to_list(:maps.remove("id", need)))
    JSON.encode(:lists.map(fn {k, v} -> [k, v] end, pairs))
  end
end
