defmodule ElixirWorkers.AnchorStyleTest do
  # Code written for the original Mix-based elixir-workers (a `routes/0`
  # list, string-keyed conn maps) is refused with a message naming the new
  # form, never compiled into a router that answers 404 to everything.
  # Not async: the crash test captures stderr.
  use ExUnit.Case
  import ExUnit.CaptureIO
  alias ElixirWorkers.{Conn, JSON}

  defmodule MapAccessRouter do
    use ElixirWorkers.Router

    get "/", fn conn -> Conn.text(conn, 200, conn["method"]) end
  end

  defmodule MapAccessApp do
    use ElixirWorkers.App, router: ElixirWorkers.AnchorStyleTest.MapAccessRouter
  end

  # The router of the original project's hello_world example, trimmed.
  @anchor_router """
  defmodule AnchorHello.Router do
    use ElixirWorkers.Router

    defp routes do
      [
        {"GET", [], &page_home/1},
        {"POST", ["api", "echo"], &api_echo/1}
      ]
    end

    defp page_home(conn), do: Conn.html(conn, 200, "<h1>hi</h1>")

    defp api_echo(conn) do
      Conn.json(conn, 200, %{"method" => conn["method"], "parsed_body" => conn["parsed_body"]})
    end
  end
  """

  test "a routes/0 router does not compile and the error shows the macro form" do
    error = assert_raise CompileError, fn -> Code.compile_string(@anchor_router, "anchor_router.ex") end
    message = Exception.message(error)

    # Points at the definition of routes/0.
    assert message =~ "anchor_router.ex:4:"
    assert message =~ "AnchorHello.Router defines routes/0"
    assert message =~ "original Mix-based elixir-workers"
    assert message =~ ~s(get "/users/:id", :show)
    assert message =~ "%ElixirWorkers.Conn{}"
    assert message =~ ~s(conn.params["id"])
    assert message =~ ~s(instead of conn["method"])
    refute Code.ensure_loaded?(AnchorHello.Router)
  end

  test "routes/0 is refused next to macro routes too, public or private" do
    assert_raise CompileError, ~r/AnchorMixed.Router defines routes\/0/, fn ->
      Code.compile_string("""
      defmodule AnchorMixed.Router do
        use ElixirWorkers.Router
        get "/", :home
        def routes, do: [{"GET", [], &home/1}]
        def home(conn), do: Conn.text(conn, 200, "home")
      end
      """)
    end
  end

  test "a middleware/0 list is refused: its middleware would never run" do
    error =
      assert_raise CompileError, fn ->
        Code.compile_string("""
        defmodule AnchorMiddleware.Router do
          use ElixirWorkers.Router
          get "/", :home
          def home(conn), do: Conn.text(conn, 200, "home")
          defp middleware, do: [&auth/1]
          defp auth(conn), do: conn
        end
        """)
      end

    assert Exception.message(error) =~ "AnchorMiddleware.Router defines middleware/0"
    assert Exception.message(error) =~ "plug :auth"
  end

  test "conn[\"key\"] raises an ElixirWorkers.Error naming the field to use" do
    conn = Conn.from_request(%{"method" => "POST", "url" => "/"}, "")

    error = assert_raise ElixirWorkers.Error, fn -> conn["method"] end

    assert error.message ==
             ~s(conn["method"] is the map access of the original Mix-based elixir-workers; ) <>
               "ElixirWorkers.Conn is a struct: use conn.method"

    assert_raise ElixirWorkers.Error, ~r/use conn\.parsed_body$/, fn -> conn["parsed_body"] end
    assert_raise ElixirWorkers.Error, ~r/conn\[:status\] .* use conn\.status$/, fn -> conn[:status] end
    assert_raise ElixirWorkers.Error, ~r/conn\["path_params"\] .* use its fields/, fn -> conn["path_params"] end
    assert_raise ElixirWorkers.Error, ~r/conn\["halted"\] .* use conn\.halted$/, fn -> put_in(conn["halted"], true) end
    assert_raise ElixirWorkers.Error, ~r/conn\["headers"\]/, fn -> get_in(conn, ["headers", "host"]) end
    assert_raise ElixirWorkers.Error, ~r/conn\["body"\]/, fn -> pop_in(conn["body"]) end
  end

  test "a route using conn[\"method\"] answers 500 and logs the clear error" do
    request = IO.iodata_to_binary([JSON.encode(%{"method" => "GET", "url" => "/", "id" => "r-1"}), ?\n])

    log =
      capture_io(:stderr, fn ->
        [head, _body] = :binary.split(IO.iodata_to_binary(MapAccessApp.handle(request)), "\n")
        send(self(), {:head, JSON.decode!(head)})
      end)

    assert_received {:head, %{"status" => 500}}
    assert log =~ "(ElixirWorkers.Error)"
    assert log =~ ~s(conn["method"] is the map access of the original Mix-based elixir-workers)
    assert log =~ "use conn.method"
  end
end
