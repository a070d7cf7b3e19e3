# The elixir-workers compile server: a warm Elixir compiler for one project.
#
# Started by `elixir-workers build` (see compile_server.rs). Booting the VM
# and loading the compiler costs ~0.4 s of every elixirc run; a warm compiler
# recompiles a small app in tens of milliseconds. It listens on 127.0.0.1
# only, answers only requests carrying the token it wrote to its 0600 info
# file, handles one request at a time, and stops by itself after being idle.
#
# argv: INFO_FILE IDLE_MS KEY
# request (4-byte length prefix): "TOKEN\nID\nTIMEOUT_MS\nOUTDIR\nFILE\nFILE..."
#   or "TOKEN\nstop"
# response (4-byte length prefix): "ID\n", then "ok\n", "error\n" or
#   "timeout\n", then what the compiler printed. ID is the client's request
#   id, echoed so a client never takes an answer meant for another request.

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
  # It only ever waits in `accept` (a compile runs in its own process, below),
  # so these checks always come round.
  @tick 5_000

  def loop(s, last_request) do
    case :gen_tcp.accept(s.listen, min(@tick, s.idle_ms)) do
      {:ok, socket} ->
        {s, served?} = serve(socket, s)
        :gen_tcp.close(socket)
        # Only a request carrying the token counts as use: a stray connection
        # to the port must not keep the server alive.
        loop(s, if(served?, do: now(), else: last_request))

      {:error, :timeout} ->
        cond do
          now() - last_request >= s.idle_ms -> stop(s)
          not mine?(s) -> System.halt(0)
          true -> loop(s, last_request)
        end

      {:error, _} ->
        stop(s)
    end
  end

  def now, do: System.monotonic_time(:millisecond)

  defp mine?(s) do
    case File.read(s.info_file) do
      {:ok, text} -> String.contains?(text, s.token)
      _ -> false
    end
  end

  defp stop(s) do
    if mine?(s), do: File.rm(s.info_file)
    System.halt(0)
  end

  defp serve(socket, %{token: token} = s) do
    with {:ok, data} <- :gen_tcp.recv(socket, 0, 10_000),
         [^token | rest] <- String.split(data, "\n", trim: true) do
      case rest do
        ["stop"] ->
          :gen_tcp.send(socket, "ok\n")
          :gen_tcp.close(socket)
          stop(s)

        [id, timeout_ms, outdir | files] when files != [] ->
          case Integer.parse(timeout_ms) do
            {ms, ""} when ms > 0 ->
              {status, printed, loaded} = compile(files, outdir, s.loaded, ms)
              :gen_tcp.send(socket, [id, "\n", status, "\n", printed])

              # A compile that overran was killed part-way: what it left
              # loaded is unknown, so this server is done. The client starts
              # a fresh one next time.
              if status == "timeout" do
                :gen_tcp.close(socket)
                stop(s)
              end

              {%{s | loaded: loaded}, true}

            _ ->
              {s, false}
          end

        _ ->
          {s, false}
      end
    else
      _ -> {s, false}
    end
  end

  # Every module of the previous compile is unloaded first, so the result
  # matches a fresh elixirc run (a deleted file's module is really gone).
  #
  # The compile runs in a fresh process, never in the server's own. Why:
  # Kernel.ParallelCompiler returns as soon as one file fails, killing the
  # other workers, but messages those workers had already sent
  # (`{:file_error, ..}`, `{:file_ok, ..}`, `{:module_available, ..}`,
  # `{:waiting, ..}`, `{:timed_out, ..}`) stay in the mailbox of the process
  # that called it. The next compile in that process reads them as its own:
  # a stale `:file_error` or `:file_ok` makes it wait, in a receive with no
  # timeout (`discard_down/1`), for the `:DOWN` of a worker whose `:DOWN` was
  # already consumed, and the server hung for good (two files failing at
  # once reproduces it every time). A process per compile takes its mailbox
  # with it; its result comes back as its exit reason, so nothing of it can
  # be read later.
  defp compile(files, outdir, loaded, timeout_ms) do
    flush()

    for m <- loaded do
      :code.purge(m)
      :code.delete(m)
    end

    {:ok, out} = StringIO.open("")
    {:ok, err} = StringIO.open("")
    old_err = Process.whereis(:standard_error)
    Process.unregister(:standard_error)
    Process.register(err, :standard_error)

    outcome =
      try do
        {pid, ref} =
          spawn_monitor(fn ->
            # Every process the compile starts inherits this group leader,
            # which is how the leftovers are found below.
            Process.group_leader(self(), out)
            exit({:compiled, run(files, outdir)})
          end)

        receive do
          {:DOWN, ^ref, :process, ^pid, {:compiled, result}} -> result
          {:DOWN, ^ref, :process, ^pid, reason} -> {:error, "the compiler exited: #{inspect(reason)}\n"}
        after
          timeout_ms ->
            Process.exit(pid, :kill)
            Process.demonitor(ref, [:flush])
            :timeout
        end
      after
        # Workers of a failed or killed compile, and anything the compiled
        # code spawned, would otherwise linger (a worker waiting for a module
        # waits forever once its compiler is gone).
        for p <- Process.list(),
            Process.info(p, :group_leader) == {:group_leader, out},
            do: Process.exit(p, :kill)

        Process.unregister(:standard_error)
        Process.register(old_err, :standard_error)
      end

    {_, printed_out} = StringIO.contents(out)
    {_, printed_err} = StringIO.contents(err)
    StringIO.close(out)
    StringIO.close(err)
    printed = printed_out <> printed_err

    # Also what a failed compile loaded (its finished modules), found by the
    # directory they were loaded from, so the next compile unloads them too.
    dir = Path.expand(outdir)

    from_outdir =
      for {m, path} <- :code.all_loaded(),
          is_list(path),
          Path.dirname(List.to_string(path)) == dir,
          do: m

    case outcome do
      {:ok, modules} -> {"ok", printed, Enum.uniq(modules ++ from_outdir)}
      {:error, extra} -> {"error", printed <> extra, from_outdir}
      :timeout -> {"timeout", printed, from_outdir}
    end
  end

  defp run(files, outdir) do
    case Kernel.ParallelCompiler.compile_to_path(files, outdir) do
      {:ok, modules, _warnings} -> {:ok, modules}
      {:error, _errors, _warnings} -> {:error, ""}
    end
  rescue
    e -> {:error, Exception.format(:error, e, __STACKTRACE__)}
  catch
    kind, reason -> {:error, Exception.format(kind, reason, __STACKTRACE__)}
  end

  # Nothing should be here (every receive above matches a fresh reference),
  # but nothing from one request may be left for the next.
  defp flush do
    receive do
      _ -> flush()
    after
      0 -> :ok
    end
  end
end

ElixirWorkersCompileServer.loop(
  %{listen: listen, token: token, info_file: info_file, idle_ms: idle_ms, loaded: []},
  ElixirWorkersCompileServer.now()
)
