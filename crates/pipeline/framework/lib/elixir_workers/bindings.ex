defmodule ElixirWorkers.Bindings do
  @moduledoc """
  Reads from Cloudflare bindings (KV, D1, R2, outbound fetch) by passes.

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
  raises an `ElixirWorkers.Error` in the route (the request answers 500 and
  the message is logged), except where a module hands it to the route
  (`ElixirWorkers.Fetch`: a timeout or a refused connection is an answer the
  route may want to handle).
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
  need and returns `nil` when it has not been fetched yet. A failed read
  raises an `ElixirWorkers.Error`.
  """
  def fetch(%Conn{} = conn, need) when is_map(need) do
    case result(conn, need) do
      nil ->
        nil

      {:ok, value} ->
        value

      {:error, %{"error" => message}} ->
        :erlang.error(
          ElixirWorkers.Error.exception(
            "binding " <> :maps.get("type", need) <> " failed: " <> to_message(message)
          )
        )
    end
  end

  @doc """
  Like `fetch/2`, but a failed read is returned instead of raised:
  `nil` (not fetched yet; the need is recorded), `{:ok, value}`, or
  `{:error, result}` where `result` is the worker's error object
  (`"error"`, the message, and for some reads a `"reason"`).
  """
  def result(%Conn{bindings: bindings}, need) when is_map(need) do
    id = need_id(need)

    case :maps.find(id, bindings) do
      {:ok, %{"ok" => value}} ->
        {:ok, value}

      {:ok, %{"error" => _} = error} ->
        {:error, error}

      {:ok, _other} ->
        :erlang.error(ElixirWorkers.Error.exception("malformed binding result for " <> id))

      :error ->
        record(:maps.put("id", id, need))
        nil
    end
  end

  @doc """
  The bytes a binding result points to: results that carry bytes (a fetched
  body, an R2 object) give them as `[offset, size]` in the blob area the
  worker sends after the request body (PROTOCOL.md).
  """
  def bytes(%Conn{blobs: blobs}, [at, size])
      when is_integer(at) and is_integer(size) and at >= 0 and size >= 0 do
    if at + size <= byte_size(blobs) do
      :binary.part(blobs, at, size)
    else
      :erlang.error(ElixirWorkers.Error.exception("a binding result points past the bytes the worker sent"))
    end
  end

  def bytes(%Conn{}, other) do
    :erlang.error(ElixirWorkers.Error.exception("malformed byte range in a binding result: " <> JSON.encode(other)))
  end

  @doc """
  Bytes going to the worker (a fetch body, an R2 object, a queue message) as
  base64 text: JSON strings must be valid UTF-8, and a need's id is made from
  its fields, so the bytes travel inside them (`:base64` is a NIF of the
  runtime).
  """
  def encode_bytes(iodata), do: :base64.encode(:erlang.iolist_to_binary(iodata))

  @doc false
  # Puts `opts[name]` into the map `into` when the caller gave it: the
  # optional fields of a need or an effect (`timeout_ms`, `expiration_ttl`, ...).
  def copy_opt(opts, name, into) do
    case :maps.find(name, opts) do
      {:ok, v} -> :maps.put(name, v, into)
      :error -> into
    end
  end

  @doc false
  # `copy_opt/3` for each of `names`.
  def copy_opts(opts, names, into), do: :lists.foldl(&copy_opt(opts, &1, &2), into, names)

  @doc false
  # Puts the caller's `"headers"` (a map, or a list of pairs) into a need as
  # a map: what an outbound request or a Durable Object call sends.
  def copy_headers(opts, need) do
    case :maps.find("headers", opts) do
      {:ok, headers} when is_map(headers) -> :maps.put("headers", headers, need)
      {:ok, headers} when is_list(headers) -> :maps.put("headers", :maps.from_list(headers), need)
      _ -> need
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
