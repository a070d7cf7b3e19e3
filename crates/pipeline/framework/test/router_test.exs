defmodule ElixirWorkers.RouterTest do
  use ExUnit.Case, async: true
  import TestHelper, only: [conn: 2, conn: 3, assert_headers: 2]
  alias ElixirWorkers.{Conn, JSON}

  defmodule CorsRouter do
    use ElixirWorkers.Router, default_middleware: false

    plug &ElixirWorkers.Middleware.cors/2, %{"origin" => "https://example.com"}
    plug :tag_request
    plug :maybe_halt, "stop"

    get "/", fn conn -> Conn.text(conn, 200, "root " <> conn.assigns["tag"]) end

    def tag_request(conn), do: Conn.assign(conn, "tag", "tagged")

    def maybe_halt(conn, word) do
      if conn.query_params["halt"] == word,
        do: conn |> Conn.text(418, "halted") |> Conn.halt(),
        else: conn
    end

    def not_found(conn), do: Conn.text(conn, 404, "custom 404")
  end

  test "plugs run in order and can halt" do
    c = CorsRouter.call(conn("GET", "/"))
    assert c.resp_body == "root tagged"

    assert_headers(c, %{
      "access-control-allow-origin" => "https://example.com",
      "vary" => "origin",
      "x-frame-options" => nil
    })

    c = CorsRouter.call(conn("GET", "/?halt=stop"))
    assert c.status == 418 and c.halted
  end

  test "CORS preflight answers 204 before routing" do
    c = CorsRouter.call(conn("OPTIONS", "/anything", %{"access-control-request-method" => "POST"}))
    assert c.status == 204
    assert c.resp_headers["access-control-allow-methods"] =~ "POST"
  end

  test "not_found can be overridden" do
    assert CorsRouter.call(conn("GET", "/x")).resp_body == "custom 404"
  end

  test "route table is compiled" do
    assert {"GET", ["users", {:param, "id"}]} in TestApp.Router.__routes__()
    assert {"GET", ["files", {:glob, "path"}]} in TestApp.Router.__routes__()
  end

  test "bad route definitions fail at compile time" do
    assert_raise CompileError, ~r/glob must be the last/, fn ->
      Code.compile_string("""
      defmodule BadGlob do
        use ElixirWorkers.Router
        get "/a/*rest/b", :x
      end
      """)
    end

    assert_raise CompileError, ~r/route method must be/, fn ->
      Code.compile_string("""
      defmodule BadMethod do
        use ElixirWorkers.Router
        match "FETCH", "/a", :x
      end
      """)
    end
  end

  test "Conn builders" do
    c = conn("GET", "/") |> Conn.json(201, %{"a" => 1})
    assert c.status == 201 and IO.iodata_to_binary(c.resp_body) == ~s({"a":1})
    c = conn("GET", "/") |> Conn.put_status(204) |> Conn.put_header("x", "1") |> Conn.delete_header("x")
    assert c.status == 204 and c.resp_headers == %{}
    assert JSON.encode(%{"h" => ElixirWorkers.HTML.escape_to_binary("<a href='x'>&</a>")}) ==
             ~s({"h":"&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;"})
    assert IO.iodata_to_binary(ElixirWorkers.HTML.tag("a", %{"href" => "/?a=1&b=\"2\""}, "x")) ==
             ~s(<a href="/?a=1&amp;b=&quot;2&quot;">x</a>)
    assert IO.iodata_to_binary(ElixirWorkers.HTML.void_tag("input", [{"disabled", true}, {"x", nil}])) == "<input disabled>"
  end
end
