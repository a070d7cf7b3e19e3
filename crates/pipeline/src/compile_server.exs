# The elixir-workers compile server: a warm Elixir compiler for one project.
#
# Started by `elixir-workers build` (see compile_server.rs). Booting the VM
# and loading the compiler costs ~0.4 s of every elixirc run; a warm compiler
# recompiles a small app in tens of milliseconds. It listens on 127.0.0.1
# only, answers only requests carrying the token it wrote to its 0600 info
# file, handles one request at a time, and stops by itself after being idle.
#
# argv: INFO_FILE IDLE_MS KEY
# request (4-byte length prefix): "TOKEN\nOUTDIR\nFILE\nFILE..." or "TOKEN\nstop"
# response (4-byte length prefix): "ok\n" or "error\n", then what the compiler printed

[info_file, idle_ms, key] = System.argv()
idle_ms = String.to_integer(idle_ms)

{:ok, listen} =
  :gen_tcp.listen(0, [:binary, packet: 4, active: false, ip: {127, 0, 0, 1}, reuseaddr: true])

{:ok, port} = :inet.port(listen)
token = Base.encode16(:crypto.strong_rand_bytes(16))

tmp = info_file <> ".tmp"
File.write!(tmp, "#{port}\n#{token}\n#{key}\n#{System.pid()}\n")
File.chmod!(tmp, 0o600)
File.rename!(tmp, info_file)

Code.put_compiler_option(:ignore_module_conflict, true)

defmodule ElixirWorkersCompileServer do
  # Wakes every few seconds: it stops when idle long enough, or as soon as its
  # info file is gone or names another server (`rm -rf _build`, a newer
  # server), so no orphan outlives its project's build directory for long.
  @tick 5_000

  def loop(listen, token, info_file, idle_ms, loaded, idle \\ 0) do
    case :gen_tcp.accept(listen, min(@tick, idle_ms)) do
      {:ok, socket} ->
        loaded = serve(socket, token, info_file, loaded)
        :gen_tcp.close(socket)
        loop(listen, token, info_file, idle_ms, loaded, 0)

      {:error, :timeout} ->
        idle = idle + min(@tick, idle_ms)

        cond do
          idle >= idle_ms -> stop(info_file, token)
          not mine?(info_file, token) -> System.halt(0)
          true -> loop(listen, token, info_file, idle_ms, loaded, idle)
        end

      {:error, _} ->
        stop(info_file, token)
    end
  end

  defp mine?(info_file, token) do
    case File.read(info_file) do
      {:ok, text} -> String.contains?(text, token)
      _ -> false
    end
  end

  defp stop(info_file, token) do
    if mine?(info_file, token), do: File.rm(info_file)
    System.halt(0)
  end

  defp serve(socket, token, info_file, loaded) do
    with {:ok, data} <- :gen_tcp.recv(socket, 0, 10_000),
         [^token | rest] <- String.split(data, "\n", trim: true) do
      case rest do
        ["stop"] ->
          :gen_tcp.send(socket, "ok\n")
          :gen_tcp.close(socket)
          stop(info_file, token)

        [outdir | files] ->
          {reply, modules} = compile(files, outdir, loaded)
          :gen_tcp.send(socket, reply)
          modules

        _ ->
          loaded
      end
    else
      _ -> loaded
    end
  end

  # Every module of the previous compile is unloaded first, so the result
  # matches a fresh elixirc run (a deleted file's module is really gone).
  defp compile(files, outdir, loaded) do
    for m <- loaded do
      :code.purge(m)
      :code.delete(m)
    end

    {:ok, out} = StringIO.open("")
    {:ok, err} = StringIO.open("")
    old_leader = Process.group_leader()
    old_err = Process.whereis(:standard_error)
    Process.unregister(:standard_error)
    Process.register(err, :standard_error)
    Process.group_leader(self(), out)

    result =
      try do
        Kernel.ParallelCompiler.compile_to_path(files, outdir)
      rescue
        e -> {:error, [{"", 0, Exception.format(:error, e, __STACKTRACE__)}], []}
      catch
        kind, reason -> {:error, [{"", 0, Exception.format(kind, reason, __STACKTRACE__)}], []}
      after
        Process.group_leader(self(), old_leader)
        Process.unregister(:standard_error)
        Process.register(old_err, :standard_error)
      end

    {_, printed_out} = StringIO.contents(out)
    {_, printed_err} = StringIO.contents(err)
    printed = printed_out <> printed_err

    case result do
      {:ok, modules, _warnings} -> {"ok\n" <> printed, modules}
      {:error, _errors, _warnings} -> {"error\n" <> printed, []}
    end
  end
end

ElixirWorkersCompileServer.loop(listen, token, info_file, idle_ms, [])
