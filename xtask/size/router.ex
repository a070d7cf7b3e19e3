# The small app of issue #12's size target, written the ordinary way:
# `conn.params["id"]`, `raise`, `Enum.map`, `String.split/2` and one
# `defimpl`. `cargo xtask bench size` builds it with `elixir-workers build`.
defmodule SizeApp.Tag do
  defstruct name: ""
end

defimpl String.Chars, for: SizeApp.Tag do
  def to_string(%{name: name}), do: "#" <> name
end

defmodule SizeApp.Router do
  use ElixirWorkers.Router

  get "/users/:id", :user
  get "/tags/:list", :tags

  def user(conn) do
    case conn.params["id"] do
      "0" -> raise ArgumentError, "there is no user 0"
      id -> Conn.json(conn, 200, %{"id" => id})
    end
  end

  def tags(conn) do
    tags =
      conn.params["list"]
      |> String.split(",")
      |> Enum.map(&to_string(%SizeApp.Tag{name: &1}))

    Conn.json(conn, 200, %{"tags" => tags})
  end
end
