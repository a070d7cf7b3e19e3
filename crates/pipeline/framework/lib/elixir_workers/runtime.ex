defmodule ElixirWorkers.Runtime do
  @moduledoc """
  The only module that touches the host. On AtomVM under WASI it uses the
  adapter's NIFs (`:wasi.read_stdin/0`, `:wasi.respond/1`,
  `:wasi.write_stderr/1`); on the BEAM it uses standard I/O, so an app can be
  exercised with `elixir` too.
  """

  # :wasi exists only inside the AtomVM WASI runtime.
  @compile {:no_warn_undefined, :wasi}

  @doc "`:atomvm` or `:beam`."
  def vm do
    # A charlist pattern, not a literal: upstream AtomVM copies every
    # literal it loads into a heap fragment, which costs a garbage collection
    # (our runtime decodes literals once at boot instead).
    case :erlang.system_info(:machine) do
      [?B, ?E, ?A, ?M] -> :beam
      _ -> :atomvm
    end
  end

  @doc "The whole request (stdin)."
  def read_request do
    case vm() do
      :atomvm -> :wasi.read_stdin()
      :beam -> read_all_stdin([])
    end
  end

  defp read_all_stdin(acc) do
    case :file.read(:standard_io, 65536) do
      {:ok, data} -> read_all_stdin([acc, data])
      :eof -> :erlang.iolist_to_binary(acc)
      {:error, _} -> :erlang.iolist_to_binary(acc)
    end
  end

  @doc "Hands the complete response (iodata) to the host."
  def respond(iodata) do
    case vm() do
      :atomvm -> :wasi.respond(iodata)
      :beam -> :file.write(:standard_io, iodata)
    end

    :ok
  end

  @doc "Writes to stdout: a log line (`console.log` in the worker), never part of the response."
  def log(iodata) do
    case vm() do
      :atomvm -> :wasi.write_stdout(iodata)
      :beam -> :file.write(:standard_io, iodata)
    end

    :ok
  end

  @doc "Writes a log line to stderr (shown by `wrangler dev` and `wrangler tail`)."
  def log_error(iodata) do
    case vm() do
      :atomvm -> :wasi.write_stderr(iodata)
      :beam -> :file.write(:standard_error, iodata)
    end

    :ok
  end
end
