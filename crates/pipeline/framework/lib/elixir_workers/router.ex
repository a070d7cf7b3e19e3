defmodule ElixirWorkers.Router do
  @moduledoc """
  Routes by method and path.

      defmodule MyApp.Router do
        use ElixirWorkers.Router

        plug &ElixirWorkers.Middleware.cors/2, %{"origin" => "*"}

        get "/", :home
        get "/users/:id", &show_user/1
        post "/echo", fn conn -> Conn.json(conn, 200, conn.parsed_body) end
        get "/files/*path", :file

        defp home(conn), do: Conn.html(conn, 200, "<h1>hi</h1>")
        # ...
      end

  Paths are compiled into function-clause patterns when the module compiles:
  `:name` captures one segment into `conn.params["name"]`, `*name` (last)
  captures the remaining segments as a list. Routes are tried in order.

  A path that matches no route answers 404; a path that matches only for
  other methods answers 405 with an `allow` header. `HEAD` falls back to the
  `GET` route.

  Middleware: `security_headers/1` and `parse_body/1` of
  `ElixirWorkers.Middleware` run first unless `use ElixirWorkers.Router,
  default_middleware: false`; then each `plug`, in order. `plug` takes a
  local function name (`plug :auth` or `plug :auth, opts`) or a function
  (`plug &Mod.fun/1` or `plug &Mod.fun/2, opts`).

  The security headers include a default `content-security-policy`;
  `use ElixirWorkers.Router, csp: "default-src 'none'"` sends another one
  and `csp: false` sends none. A route that sets the header keeps its own.

  A router of the original Mix-based elixir-workers (a `routes/0` list of
  `{method, segments, handler}` or a `middleware/0` list) does not compile
  here: the error shows the macro form instead. Its `conn["method"]` raises
  an `ElixirWorkers.Error` that names `conn.method`.

  Override `not_found/1` or `method_not_allowed/2` to change those answers.

  This module only generates code (at compile time it may use anything,
  such as `Enum`); the generated router calls `ElixirWorkers.Dispatch`, so
  nothing in the worker names this module and the build leaves it out of
  `app.avm`.
  """

  @methods ~w(GET POST PUT PATCH DELETE OPTIONS HEAD)

  @options [:default_middleware, :csp]

  defmacro __using__(opts) do
    check_options(opts, __CALLER__)
    default? = Keyword.get(opts, :default_middleware, true)
    # :default keeps `security_headers/1`; a binary or false is passed on
    # to `security_headers/2`.
    csp = Keyword.get(opts, :csp, :default)

    quote do
      import ElixirWorkers.Router, only: [get: 2, post: 2, put: 2, patch: 2, delete: 2, options: 2, head: 2, match: 3, plug: 1, plug: 2]
      alias ElixirWorkers.{Body, Conn, D1, DurableObject, Fetch, HTML, JSON, KV, Middleware, Queue, R2, URL}

      Module.register_attribute(__MODULE__, :ew_routes, accumulate: true)
      Module.register_attribute(__MODULE__, :ew_plugs, accumulate: true)
      @ew_default_middleware unquote(default?)
      @ew_csp unquote(csp)
      @before_compile ElixirWorkers.Router

      @doc false
      def not_found(conn) do
        ElixirWorkers.Conn.json(conn, 404, %{"error" => "not_found", "path" => conn.path})
      end

      @doc false
      def method_not_allowed(conn, allowed) do
        conn
        |> ElixirWorkers.Conn.put_header("allow", ElixirWorkers.Dispatch.join_methods(allowed))
        |> ElixirWorkers.Conn.json(405, %{
          "error" => "method_not_allowed",
          "method" => conn.method,
          "allowed" => allowed
        })
      end

      defoverridable not_found: 1, method_not_allowed: 2
    end
  end

  defp check_options(opts, caller) do
    unless Keyword.keyword?(opts) and Enum.all?(Keyword.keys(opts), &(&1 in @options)) do
      compile_error(
        caller,
        "use ElixirWorkers.Router takes a literal keyword list of #{Enum.map_join(@options, ", ", &inspect/1)}, got: #{Macro.to_string(opts)}"
      )
    end

    case Keyword.fetch(opts, :csp) do
      :error ->
        :ok

      {:ok, csp} when not (is_binary(csp) or csp == false) ->
        compile_error(caller, "csp: must be a literal string (the content-security-policy value) or false, got: #{Macro.to_string(csp)}")

      {:ok, _} ->
        if Keyword.get(opts, :default_middleware, true) == false do
          compile_error(
            caller,
            "csp: has no effect with default_middleware: false; " <>
              ~s(plug &ElixirWorkers.Middleware.security_headers/2, %{"csp" => ...} instead)
          )
        end
    end
  end

  defp compile_error(caller, description) do
    raise CompileError, file: caller.file, line: caller.line, description: description
  end

  for m <- ~w(get post put patch delete options head)a do
    method = m |> Atom.to_string() |> String.upcase()

    @doc "Adds a `#{method}` route."
    defmacro unquote(m)(path, handler) do
      route(unquote(method), path, handler, __CALLER__)
    end
  end

  @doc "Adds a route for an explicit method (`\"*\"` matches any method)."
  defmacro match(method, path, handler), do: route(method, path, handler, __CALLER__)

  @doc "Adds a middleware (see the module doc)."
  defmacro plug(fun_or_name, opts \\ nil) do
    quote do
      @ew_plugs {unquote(Macro.escape(fun_or_name)), unquote(Macro.escape(opts))}
    end
  end

  defp route(method, path, handler, caller) do
    unless is_binary(method) and (method in @methods or method == "*") do
      raise CompileError,
        file: caller.file,
        line: caller.line,
        description: "route method must be one of #{Enum.join(@methods, ", ")} or \"*\", got: #{Macro.to_string(method)}"
    end

    unless is_binary(path) do
      raise CompileError,
        file: caller.file,
        line: caller.line,
        description: "route path must be a literal string, got: #{Macro.to_string(path)}"
    end

    pattern = compile_path(path, caller)

    quote do
      @ew_routes {unquote(method), unquote(path), unquote(Macro.escape(pattern)),
                  unquote(Macro.escape(handler))}
    end
  end

  @doc false
  # "/users/:id/*rest" -> ["users", {:param, "id"}, {:glob, "rest"}]
  def compile_path(path, caller \\ nil) do
    segs = String.split(path, "/", trim: true)
    last = length(segs) - 1

    segs
    |> Enum.with_index()
    |> Enum.map(fn
      {":" <> name, _} when name != "" ->
        {:param, name}

      {"*" <> name, ^last} when name != "" ->
        {:glob, name}

      {"*" <> _, _} ->
        raise CompileError,
          file: caller && caller.file,
          line: caller && caller.line,
          description: "a *glob must be the last segment of a route path: #{path}"

      {lit, _} ->
        lit
    end)
  end

  # The original Mix-based elixir-workers read a router's `routes/0` and
  # `middleware/0` at run time. Nothing here calls them, so such a router
  # would compile and answer 404 to everything (or skip its middleware):
  # refuse it, and show the form that replaced it.
  @anchor_hints [
    {{:routes, 0},
     """
     defines routes/0, the route list of the original Mix-based elixir-workers, \
     which this framework does not read (every request would answer 404). \
     Declare each route with a macro instead:

         get "/users/:id", :show          # was {"GET", [...], &show/1} in routes/0
         def show(conn), do: Conn.json(conn, 200, %{"id" => conn.params["id"]})

     A handler takes an %ElixirWorkers.Conn{} struct: conn.method, conn.path, \
     conn.params["id"], conn.parsed_body instead of conn["method"] and friends. \
     Rename routes/0 if it is not a route list.\
     """},
    {{:middleware, 0},
     """
     defines middleware/0, the middleware list of the original Mix-based \
     elixir-workers, which this framework does not read (the middleware would \
     never run). Declare each one with plug instead:

         plug :auth                       # def auth(conn), returns a conn
         plug &ElixirWorkers.Middleware.cors/2, %{"origin" => "*"}

     security_headers/1 and parse_body/1 run by default. Rename middleware/0 \
     if it is not a middleware list.\
     """}
  ]

  defp refuse_anchor_style(env) do
    for {fun, hint} <- @anchor_hints, Module.defines?(env.module, fun) do
      line =
        case Module.get_definition(env.module, fun) do
          {:v1, _kind, meta, _clauses} -> Keyword.get(meta, :line, env.line)
          nil -> env.line
        end

      raise CompileError, file: env.file, line: line, description: inspect(env.module) <> " " <> hint
    end
  end

  defmacro __before_compile__(env) do
    refuse_anchor_style(env)
    routes = env.module |> Module.get_attribute(:ew_routes) |> Enum.reverse()
    plugs = env.module |> Module.get_attribute(:ew_plugs) |> Enum.reverse()
    default? = Module.get_attribute(env.module, :ew_default_middleware)

    conn = Macro.var(:conn, __MODULE__)

    dispatch_clauses =
      Enum.map(routes, fn {method, _path, pattern, handler} ->
        {seg_pattern, params} = pattern_ast(pattern)
        method_pat = if method == "*", do: Macro.var(:_, nil), else: method

        quote do
          defp __ew_dispatch__(unquote(method_pat), unquote(seg_pattern), unquote(conn)) do
            unquote(conn) = %{unquote(conn) | params: unquote({:%{}, [], params})}
            unquote(call(handler, conn, nil))
          end
        end
      end)

    route_table = Enum.map(routes, fn {method, _path, pattern, _h} -> {method, pattern} end)

    defaults =
      if default? do
        [
          security_plug(Module.get_attribute(env.module, :ew_csp)),
          {quote(do: &ElixirWorkers.Middleware.parse_body/1), nil}
        ]
      else
        []
      end

    plug_steps =
      Enum.map(defaults ++ plugs, fn {fun, opts} ->
        quote do
          unquote(conn) =
            case unquote(conn) do
              %ElixirWorkers.Conn{halted: true} -> unquote(conn)
              _ -> unquote(call(fun, conn, opts))
            end
        end
      end)

    quote do
      @doc false
      def __routes__, do: unquote(Macro.escape(route_table))

      @doc "Runs the middleware and the matching route."
      def call(unquote(conn)) do
        unquote_splicing(plug_steps)

        case unquote(conn) do
          %ElixirWorkers.Conn{halted: true} ->
            unquote(conn)

          _ ->
            ElixirWorkers.Dispatch.dispatch(
              __MODULE__,
              unquote(conn),
              __ew_dispatch__(unquote(conn).method, unquote(conn).path_segments, unquote(conn))
            )
        end
      end

      @doc false
      def __ew_route__(method, segments, conn), do: __ew_dispatch__(method, segments, conn)

      unquote_splicing(dispatch_clauses)

      defp __ew_dispatch__(_method, _segments, _conn), do: :no_route
    end
  end

  defp security_plug(:default), do: {quote(do: &ElixirWorkers.Middleware.security_headers/1), nil}

  defp security_plug(csp),
    do: {quote(do: &ElixirWorkers.Middleware.security_headers/2), Macro.escape(%{"csp" => csp})}

  # Local name: call the function in the router module; anything else is a
  # function value applied to the conn (and opts, if given).
  defp call(name, conn, nil) when is_atom(name), do: quote(do: unquote(name)(unquote(conn)))
  defp call(name, conn, opts) when is_atom(name), do: quote(do: unquote(name)(unquote(conn), unquote(opts)))
  defp call(fun, conn, nil), do: quote(do: unquote(fun).(unquote(conn)))
  defp call(fun, conn, opts), do: quote(do: unquote(fun).(unquote(conn), unquote(opts)))

  defp pattern_ast(pattern) do
    {segs, params} =
      Enum.map_reduce(pattern, [], fn
        {:param, name}, acc ->
          var = Macro.var(String.to_atom("ew_p_" <> name), __MODULE__)
          {var, [{name, var} | acc]}

        {:glob, name}, acc ->
          var = Macro.var(String.to_atom("ew_g_" <> name), __MODULE__)
          {{:glob, var}, [{name, var} | acc]}

        lit, acc ->
          {lit, acc}
      end)

    # A trailing glob becomes the list's tail: [a, b | rest].
    seg_ast =
      case List.last(segs) do
        {:glob, var} ->
          init = Enum.drop(segs, -1)
          if init == [], do: var, else: quote(do: [unquote_splicing(init) | unquote(var)])

        _ ->
          segs
      end

    {seg_ast, Enum.reverse(params)}
  end
end
