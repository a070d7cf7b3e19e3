# Round trips through the NIF, run by `cargo xtask bench selur`:
#
#   SELUR_NIF_PATH=.../release/libselur_nif.so mix run bench/selur_bench.exs
#
# Prints one JSON line: per-call median (ns) of echo for 100 B / 1 KB /
# 10 KB payloads, and calls per second of 100-byte echo from 1 and 4
# processes (each with its own bridge, and all four sharing one).

alias Vordr.Selur.Bridge

defmodule SelurBench do
  # Median of per-call times, each the mean over a batch (a clock read per
  # call would cost as much as the call).
  def median_ns(fun, batch, batches) do
    for _ <- 1..(batch * 4), do: fun.()

    times =
      for _ <- 1..batches do
        t = :erlang.monotonic_time(:nanosecond)
        loop(fun, batch)
        (:erlang.monotonic_time(:nanosecond) - t) / batch
      end

    Enum.at(Enum.sort(times), div(batches, 2))
  end

  def loop(_fun, 0), do: :ok

  def loop(fun, n) do
    fun.()
    loop(fun, n - 1)
  end

  # Echo calls per second from `procs` processes for `ms` milliseconds.
  def rate(bridges, payload, ms) do
    parent = self()
    deadline = :erlang.monotonic_time(:millisecond) + ms

    pids =
      for b <- bridges do
        spawn_link(fn ->
          receive do
            :go -> send(parent, {:count, count(b, payload, deadline, 0)})
          end
        end)
      end

    t = :erlang.monotonic_time(:nanosecond)
    Enum.each(pids, &send(&1, :go))
    total = Enum.sum(for _ <- pids, do: receive(do: ({:count, n} -> n)))
    total / ((:erlang.monotonic_time(:nanosecond) - t) / 1.0e9)
  end

  # Checks the clock once per 1000 calls.
  defp count(b, payload, deadline, n) do
    burst(b, payload, 1000)

    if :erlang.monotonic_time(:millisecond) < deadline,
      do: count(b, payload, deadline, n + 1000),
      else: n + 1000
  end

  defp burst(_b, _p, 0), do: :ok

  defp burst(b, p, k) do
    {:ok, _} = Bridge.echo(b, p)
    burst(b, p, k - 1)
  end
end

path = Bridge.default_wasm_path()
{:ok, b} = Bridge.new(path)
sizes = [100, 1_000, 10_000]

echo =
  for n <- sizes do
    p = :binary.copy("x", n)
    {:ok, ^p} = Bridge.echo(b, p)
    SelurBench.median_ns(fn -> Bridge.echo(b, p) end, 1000, 200)
  end

p100 = :binary.copy("x", 100)
# The VM's CPU time (all its threads, idle schedulers' spinning included)
# over the one-process run: calls per CPU-second do not depend on how much
# of the machine other programs take, wall-clock calls/s do.
:erlang.statistics(:runtime)
one = SelurBench.rate([b], p100, 2000)
{_, cpu_ms} = :erlang.statistics(:runtime)
one_cpu = one * 2.0 / max(cpu_ms / 1000, 0.001)
own = for _ <- 1..4, do: elem(Bridge.new(path), 1)
four_own = SelurBench.rate(own, p100, 2000)
four_shared = SelurBench.rate([b, b, b, b], p100, 2000)

fmt = fn xs ->
  "[" <> Enum.map_join(xs, ",", &:erlang.float_to_binary(&1 / 1, decimals: 1)) <> "]"
end

IO.puts(
  ~s({"elixir_echo_ns":#{fmt.(echo)},"calls_per_s_1":#{round(one)},"calls_per_cpu_s_1":#{round(one_cpu)},) <>
    ~s("calls_per_s_4_own":#{round(four_own)},"calls_per_s_4_shared":#{round(four_shared)},) <>
    ~s("schedulers":#{System.schedulers_online()}})
)
