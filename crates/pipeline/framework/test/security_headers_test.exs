defmodule ElixirWorkers.SecurityHeadersTest do
  use ExUnit.Case, async: true
  import TestHelper
  alias ElixirWorkers.{Conn, Middleware}

  @default_csp "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " <>
                 "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

  defmodule CustomCspRouter do
    use ElixirWorkers.Router, csp: "default-src 'none'"

    get "/", fn conn -> Conn.text(conn, 200, "custom") end
  end

  defmodule NoCspRouter do
    use ElixirWorkers.Router, csp: false

    get "/", fn conn -> Conn.text(conn, 200, "none") end
  end

  defmodule OwnCspRouter do
    use ElixirWorkers.Router

    get "/", fn conn ->
      conn
      |> Conn.put_header("content-security-policy", "script-src 'self' https://cdn.example.com")
      |> Conn.html(200, "<script src=\"https://cdn.example.com/app.js\"></script>")
    end
  end

  # security_headers runs after a plug of the app's own here: the plug's
  # headers stay.
  defmodule PlugFirstRouter do
    use ElixirWorkers.Router, default_middleware: false

    plug :frame_same_origin
    plug &ElixirWorkers.Middleware.security_headers/1

    get "/", fn conn -> Conn.text(conn, 200, "plugged") end

    def frame_same_origin(conn) do
      conn
      |> Conn.put_header("x-frame-options", "SAMEORIGIN")
      |> Conn.put_header("content-security-policy", "frame-ancestors 'self'")
    end
  end

  test "responses carry the default content-security-policy, 404s too" do
    {head, _} = call("GET", "/health")
    assert head["headers"]["content-security-policy"] == @default_csp
    assert head["headers"]["x-frame-options"] == "DENY"

    {head, _} = call("GET", "/nope")
    assert head["status"] == 404
    assert head["headers"]["content-security-policy"] == @default_csp
  end

  test "security_headers/1 sends the default, /2 takes another or none" do
    assert Middleware.security_headers(%Conn{}).resp_headers["content-security-policy"] == @default_csp

    Middleware.security_headers(%Conn{}, %{"csp" => "default-src 'none'"})
    |> assert_headers(%{
      "content-security-policy" => "default-src 'none'",
      "x-content-type-options" => "nosniff"
    })

    Middleware.security_headers(%Conn{}, %{"csp" => false})
    |> assert_headers(%{"content-security-policy" => nil, "x-content-type-options" => "nosniff"})

    assert_raise ElixirWorkers.Error, ~r/"csp" must be a binary or false, got: nil/, fn ->
      Middleware.security_headers(%Conn{}, %{"csp" => nil})
    end
  end

  # GET / of each router: the body, and each header's value (nil: not sent).
  @answers [
    # A router's csp: option replaces the default.
    {CustomCspRouter, "custom",
     %{"content-security-policy" => "default-src 'none'", "x-frame-options" => "DENY"}},
    # csp: false sends no content-security-policy but the other headers.
    {NoCspRouter, "none",
     %{"content-security-policy" => nil, "x-content-type-options" => "nosniff"}},
    # A content-security-policy set by the route wins, and so does one an
    # earlier plug set (with its x-frame-options).
    {OwnCspRouter, "<script src=\"https://cdn.example.com/app.js\"></script>",
     %{"content-security-policy" => "script-src 'self' https://cdn.example.com"}},
    {PlugFirstRouter, "plugged",
     %{
       "content-security-policy" => "frame-ancestors 'self'",
       "x-frame-options" => "SAMEORIGIN",
       "x-content-type-options" => "nosniff"
     }}
  ]

  test "a router's csp: option, csp: false, and a policy the route or a plug set" do
    for {router, body, headers} <- @answers do
      c = router.call(conn("GET", "/"))
      assert c.resp_body == body, "#{inspect(router)} answered #{inspect(c.resp_body)}"
      assert_headers(c, headers)
    end
  end

  test "bad router options fail at compile time" do
    assert_raise CompileError, ~r/csp: must be a literal string .* or false, got: 42/, fn ->
      Code.compile_string("""
      defmodule BadCspValue do
        use ElixirWorkers.Router, csp: 42
      end
      """)
    end

    assert_raise CompileError, ~r/csp: has no effect with default_middleware: false/, fn ->
      Code.compile_string("""
      defmodule CspWithoutDefaults do
        use ElixirWorkers.Router, default_middleware: false, csp: "default-src 'none'"
      end
      """)
    end

    assert_raise CompileError, ~r/takes a literal keyword list of :default_middleware, :csp, got: \[cps: false\]/, fn ->
      Code.compile_string("""
      defmodule CspTypo do
        use ElixirWorkers.Router, cps: false
      end
      """)
    end
  end
end
