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

  defp conn(method, url), do: Conn.from_request(%{"method" => method, "url" => url}, "")

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

    c = Middleware.security_headers(%Conn{}, %{"csp" => "default-src 'none'"})
    assert c.resp_headers["content-security-policy"] == "default-src 'none'"
    assert c.resp_headers["x-content-type-options"] == "nosniff"

    c = Middleware.security_headers(%Conn{}, %{"csp" => false})
    refute Map.has_key?(c.resp_headers, "content-security-policy")
    assert c.resp_headers["x-content-type-options"] == "nosniff"

    assert_raise ElixirWorkers.Error, ~r/"csp" must be a binary or false, got: nil/, fn ->
      Middleware.security_headers(%Conn{}, %{"csp" => nil})
    end
  end

  test "a router's csp: option replaces the default" do
    c = CustomCspRouter.call(conn("GET", "/"))
    assert c.resp_body == "custom"
    assert c.resp_headers["content-security-policy"] == "default-src 'none'"
    assert c.resp_headers["x-frame-options"] == "DENY"
  end

  test "csp: false sends no content-security-policy but the other headers" do
    c = NoCspRouter.call(conn("GET", "/"))
    assert c.resp_body == "none"
    refute Map.has_key?(c.resp_headers, "content-security-policy")
    assert c.resp_headers["x-content-type-options"] == "nosniff"
  end

  test "a content-security-policy set by the route or an earlier plug wins" do
    c = OwnCspRouter.call(conn("GET", "/"))
    assert c.resp_headers["content-security-policy"] == "script-src 'self' https://cdn.example.com"

    c = PlugFirstRouter.call(conn("GET", "/"))
    assert c.resp_body == "plugged"
    assert c.resp_headers["content-security-policy"] == "frame-ancestors 'self'"
    assert c.resp_headers["x-frame-options"] == "SAMEORIGIN"
    assert c.resp_headers["x-content-type-options"] == "nosniff"
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
