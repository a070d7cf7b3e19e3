defmodule Acme.Shop.Router do
  @moduledoc """
  The routes of Acme.Shop. `:name` in a path captures one segment, read
  with `Conn.param(conn, "name")`; routes are tried in order; anything else
  answers 404.

  `Conn.param/2` rather than `conn.params["name"]`: the `[]` syntax calls
  Elixir's `Access`, whose error path brings `inspect/1`, the protocols
  and the exception structs (about 440 KB) into the worker's app.avm.
  """
  use ElixirWorkers.Router

  get "/", :home
  get "/api/health", :health
  post "/api/echo", :echo
  get "/hello/:name", :hello

  def home(conn) do
    Conn.html(conn, 200, """
    <!DOCTYPE html>
    <html lang="en">
      <head><meta charset="utf-8"><title>Acme.Shop</title></head>
      <body>
        <h1>Hello from Acme.Shop</h1>
        <p>Elixir on Cloudflare Workers. Try <a href="/api/health">/api/health</a>
        or <a href="/hello/world">/hello/world</a>.</p>
      </body>
    </html>
    """)
  end

  def health(conn) do
    Conn.json(conn, 200, %{"status" => "ok"})
  end

  # Answers with what it was sent: the parsed JSON (or form) body and the method.
  def echo(conn) do
    Conn.json(conn, 200, %{"method" => conn.method, "body" => conn.parsed_body})
  end

  def hello(conn) do
    Conn.json(conn, 200, %{"hello" => Conn.param(conn, "name")})
  end
end
