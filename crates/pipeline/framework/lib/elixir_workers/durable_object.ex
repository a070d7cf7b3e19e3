defmodule ElixirWorkers.DurableObject do
  @moduledoc """
  Durable Objects: calling one from a route, and defining one in Elixir.

  ## Calling an object

  `binding` is the name in `wrangler.jsonc` (`durable_objects.bindings[].name`);
  the object is picked by name (`"room-42"` or `{:name, "room-42"}`: the
  platform's `idFromName`) or by the hex id of one (`{:id, hex}`:
  `idFromString`).

      case DurableObject.fetch(conn, "COUNTER", "global", %{"method" => "POST", "path" => "/increment"}) do
        nil -> conn
        {:ok, %{"status" => 200, "body" => body}} -> Conn.text(conn, 200, body)
        {:error, %{"error" => message}} -> Conn.json(conn, 502, %{"error" => message})
      end

  The call is a read (see `ElixirWorkers.Bindings`): `nil` until the worker
  has made it, then the object's response, shaped as `ElixirWorkers.Fetch`
  returns one (`"status"`, `"headers"`, `"body"`), or `{:error, %{"reason" =>
  reason, "error" => message}}` when the object could not be reached or
  threw. Every call a pass asks for is made in parallel. Options: `"method"`
  (default `"GET"`), `"path"` (default `"/"`, with any query string),
  `"headers"` and `"body"` (iodata).

  ## Defining an object

      defmodule MyApp do
        use ElixirWorkers.App, router: MyApp.Router, durable_objects: %{"Counter" => MyApp.Counter}
      end

      defmodule MyApp.Counter do
        alias ElixirWorkers.{Conn, Storage}

        def fetch(%Conn{method: "POST"} = conn) do
          case Storage.get(conn, "count") do
            nil -> conn
            n -> conn |> Storage.put("count", n + 1) |> Conn.text(200, Integer.to_string(n + 1))
          end
        end
      end

  and in `wrangler.jsonc`, the binding and the migration that creates the
  class:

      "durable_objects": {"bindings": [{"name": "COUNTER", "class_name": "Counter"}]},
      "migrations": [{"tag": "v1", "new_sqlite_classes": ["Counter"]}]

  `build` makes the worker export a class for every `class_name` of a binding
  without `script_name`; a request to an object of that class runs the
  app with a conn for that request whose `event` is `%{"type" =>
  "durable_object", "class" => "Counter", "id" => hex, "name" => name}`
  (`"name"` is `nil` when the platform does not know it). The function gets
  the object's storage through `ElixirWorkers.Storage`: reads are passes,
  writes are applied before the response leaves the object, so the next
  request to the object sees them. The platform hands an object one request
  at a time while it only waits on its own storage, which is all a run
  does unless it also calls `ElixirWorkers.Fetch` or another object: then
  another request may run between the passes.
  """

  alias ElixirWorkers.{Bindings, Conn}

  @doc """
  Sends a request to the object: `nil` until it has answered, then
  `{:ok, response}` or `{:error, error}` (see the module doc).
  """
  def fetch(%Conn{} = conn, binding, object, opts \\ %{}) when is_binary(binding) and is_map(opts) do
    case Bindings.result(conn, need(binding, object, opts)) do
      {:ok, %{"body" => range} = response} -> {:ok, :maps.put("body", Bindings.bytes(conn, range), response)}
      other -> other
    end
  end

  @doc "The event of an object's run (`nil` in any other run)."
  def current(%Conn{event: %{"type" => "durable_object"} = event}), do: event
  def current(%Conn{}), do: nil

  defp need(binding, object, opts) do
    need = %{
      "type" => "do_fetch",
      "binding" => binding,
      "method" => :maps.get("method", opts, "GET"),
      "path" => :maps.get("path", opts, "/")
    }

    need =
      case object do
        {:id, id} when is_binary(id) -> :maps.put("object_id", id, need)
        {:name, name} when is_binary(name) -> :maps.put("object_name", name, need)
        name when is_binary(name) -> :maps.put("object_name", name, need)
      end

    need = Bindings.copy_headers(opts, need)

    case :maps.find("body", opts) do
      {:ok, nil} -> need
      {:ok, body} -> :maps.put("body_base64", Bindings.encode_bytes(body), need)
      :error -> need
    end
  end
end
