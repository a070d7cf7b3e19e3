defmodule SoakApp.Router do
  @moduledoc """
  The routes `cargo xtask bench soak` puts under load. It replaces the
  router that `elixir-workers new soak_app` generates; the project is then
  built and served as any user's app.

  Bodies above 1 MB never reach this module: the worker answers 413 before
  it runs the app.
  """
  use ElixirWorkers.Router

  # The KV namespace binding the bench adds to wrangler.jsonc.
  @kv "SOAK"

  get "/health", :health
  get "/kv/:key", :kv_read
  put "/kv/:key", :kv_write
  post "/echo", :echo
  get "/crash", :crash

  def health(conn), do: Conn.json(conn, 200, %{"status" => "ok"})

  # A miss is nil, and so is every read on the first pass: the worker then
  # fetches the value and runs the route again.
  def kv_read(conn) do
    key = Conn.param(conn, "key")

    case KV.get(conn, @kv, key) do
      nil -> Conn.json(conn, 404, %{"error" => "not_found", "key" => key})
      value -> Conn.text(conn, 200, value)
    end
  end

  # The write is an effect: the worker runs it after the response is sent.
  def kv_write(conn) do
    key = Conn.param(conn, "key")

    conn
    |> KV.put(@kv, key, conn.body)
    |> Conn.json(202, %{"stored" => key, "bytes" => byte_size(conn.body)})
  end

  # The raw body back, byte for byte.
  def echo(conn) do
    conn
    |> Conn.put_header("content-type", "application/octet-stream")
    |> Conn.send_resp(200, conn.body)
  end

  def crash(_conn), do: raise("soak: deliberate crash")
end
