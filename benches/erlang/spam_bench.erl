%% The SPAM benchmark suite for Erlang/OTP: the same programs as benches/src/{spam,tokio}_impl.rs.
%%
%% Run by spam-benches (src/erlang.rs), one `erl` per scheduler count:
%%   erl +S N:N +P 4194304 -noshell -pa Dir -run spam_bench main runs=5 warmup=1 Name=kind,Arg,...
%% Each run happens in a fresh driver process (its clock: erlang:monotonic_time). One line per case:
%%   RESULT name=<case> sched=<n> checksum=<n> samples_ns=<t1,t2,..> peak_rss=<bytes> [bytes_per_proc=<n>]
%% Warm-up runs are untimed; `checksum` is the value all runs agreed on, else `inconsistent`.
%% The gencall case calls the gen_server of spam_bench_gen.erl, compiled alongside.
-module(spam_bench).
-export([main/1]).

main(Args) ->
    try
        {Opts, Cases} = parse(Args, #{runs => 5, warmup => 1}, []),
        lists:foreach(fun(C) -> run_case(C, Opts) end, Cases),
        halt(0)
    catch
        Class:Error:Stack ->
            io:format("ERROR ~p:~p ~p~n", [Class, Error, Stack]),
            halt(1)
    end.

parse([], Opts, Cases) ->
    {Opts, lists:reverse(Cases)};
parse([Arg | Rest], Opts, Cases) ->
    [Key, Value] = string:split(Arg, "="),
    case Key of
        "runs" -> parse(Rest, Opts#{runs := list_to_integer(Value)}, Cases);
        "warmup" -> parse(Rest, Opts#{warmup := list_to_integer(Value)}, Cases);
        Name ->
            [Kind | Params] = string:tokens(Value, ","),
            Case = {Name, list_to_atom(Kind), [list_to_integer(P) || P <- Params]},
            parse(Rest, Opts, [Case | Cases])
    end.

%% ---------------------------------------------------------------- harness

run_case({Name, Kind, Params}, #{runs := Runs, warmup := Warmup}) ->
    garbage_collect(),
    file:write_file("/proc/self/clear_refs", <<"5">>),
    Results = [run_once(Kind, Params) || _ <- lists:seq(1, Warmup + Runs)],
    {_, Timed} = lists:split(Warmup, Results),
    Checksum = case lists:usort([C || {_, C, _} <- Results]) of
                   [One] -> integer_to_list(One);
                   _ -> "inconsistent"
               end,
    Samples = lists:join(",", [integer_to_list(T) || {T, _, _} <- Timed]),
    {_, _, Extra} = lists:last(Results),
    ExtraText = [io_lib:format(" ~s=~p", [K, V]) || {K, V} <- Extra],
    io:format("RESULT name=~s sched=~b checksum=~s samples_ns=~s peak_rss=~b~s~n",
              [Name, erlang:system_info(schedulers_online), Checksum, Samples, peak_rss(),
               ExtraText]).

%% One run in a fresh process, so its garbage dies with it. The driver keeps its message queue
%% off its heap (what an Erlang programmer does for a process that collects many messages):
%% with the default on_heap queue, every GC of the driver copies its queue, and fjcreate-1m
%% goes quadratic (6.5 us/process at 50k, 30 us at 200k; 0.78 us either way off_heap).
%% The across ping-pong pins the driver to scheduler 1 (and its partner to 2) with the
%% undocumented {scheduler, N} option.
run_once(Kind, Params) ->
    Self = self(),
    Pin = case {Kind, Params} of
              {pingpong, [_, 1]} -> [{scheduler, 1}];
              _ -> []
          end,
    {Pid, Ref} = spawn_opt(fun() ->
                                   T0 = erlang:monotonic_time(nanosecond),
                                   Result = bench(Kind, Params),
                                   T1 = erlang:monotonic_time(nanosecond),
                                   {Checksum, Extra} = case Result of
                                                           {C, E} -> {C, E};
                                                           C -> {C, []}
                                                       end,
                                   Self ! {self(), T1 - T0, Checksum, Extra}
                           end, [monitor, {message_queue_data, off_heap} | Pin]),
    receive
        {Pid, Time, Checksum, Extra} ->
            receive {'DOWN', Ref, process, Pid, _} -> ok end,
            {Time, Checksum, Extra};
        {'DOWN', Ref, process, Pid, Reason} ->
            error({bench_crashed, Kind, Reason})
    end.

peak_rss() ->
    case file:read_file("/proc/self/status") of
        {ok, Status} ->
            case re:run(Status, "VmHWM:\\s*(\\d+) kB", [{capture, all_but_first, list}]) of
                {match, [Kb]} -> list_to_integer(Kb) * 1024;
                nomatch -> 0
            end;
        _ -> 0
    end.

collect(_Tag, 0, Acc) -> Acc;
collect(Tag, K, Acc) -> receive {Tag, V} -> collect(Tag, K - 1, Acc + V) end.

send_all([], _Msg) -> ok;
send_all([P | Ps], Msg) -> P ! Msg, send_all(Ps, Msg).

%% ---------------------------------------------------------------- benchmarks

%% memory: N idle processes waiting in receive; bytes_per_proc from process_info(P, memory).
bench(idle, [N]) ->
    Self = self(),
    Pids = [spawn(fun() -> Self ! ready, receive stop -> ok end end) || _ <- lists:seq(1, N)],
    Count = collect_ready(N, 0),
    {memory, Bytes} = process_info(hd(Pids), memory),
    send_all(Pids, stop),
    {Count, [{bytes_per_proc, Bytes}]};

bench(skynet, [N]) ->
    Self = self(),
    spawn(fun() -> skynet(Self, 0, N) end),
    receive {sky, Sum} -> Sum end;

bench(fjcreate, [N]) ->
    fj_spawn(self(), N),
    collect(fj_done, N, 0);

bench(pingpong, [N, Across]) ->
    Opts = case Across =:= 1 andalso erlang:system_info(schedulers_online) >= 2 of
               true -> [{scheduler, 2}];
               false -> []
           end,
    Pong = spawn_opt(fun pong/0, Opts),
    Sum = ping(Pong, 1, N, 0),
    Pong ! stop,
    Sum;

bench(pairs, [P, N]) ->
    Self = self(),
    M = N div P,
    [spawn(fun() ->
                   Pong = spawn(fun pong/0),
                   Sum = ping(Pong, 1, M, 0),
                   Pong ! stop,
                   Self ! {pair, Sum}
           end) || _ <- lists:seq(1, P)],
    collect(pair, P, 0);

bench(gencall, [N]) ->
    {ok, Server} = gen_server:start(spam_bench_gen, [], []),
    Sum = gencall(Server, 1, N, 0),
    ok = gen_server:stop(Server),
    Sum;

bench(threadring, [A, H]) ->
    Self = self(),
    Pids = [spawn(fun() -> receive {next, Next} -> tr_loop(Self, Next) end end)
            || _ <- lists:seq(1, A)],
    [P ! {next, Q} || {P, Q} <- lists:zip(Pids, tl(Pids) ++ [hd(Pids)])],
    hd(Pids) ! {token, H, 0},
    receive {tr_done, Hops} -> send_all(Pids, stop), Hops end;

bench(ring, [N]) ->
    Head = ring_build(N, self()),
    Head ! {ring, 0},
    receive {ring, Count} -> Count end;

bench(fanin, [M, N]) ->
    Self = self(),
    Counter = spawn_opt(fun() -> counter(Self, M, 0) end, [{message_queue_data, off_heap}]),
    [spawn(fun() -> produce(Counter, N) end) || _ <- lists:seq(1, M)],
    receive {count, Count} -> Count end;

bench(fjthrput, [A, N]) ->
    Self = self(),
    Pids = [spawn(fun() -> thr(Self, N, 0) end) || _ <- lists:seq(1, A)],
    thr_send(Pids, N),
    collect(thr, A, 0);

bench(fib, [N]) ->
    Self = self(),
    spawn(fun() -> fib(Self, N) end),
    receive {fib, V} -> V end;

bench(big, [A, N]) ->
    Self = self(),
    Pids = [spawn(fun() -> receive {peers, Peers} -> big_start(Self, Peers, I, A, N) end end)
            || I <- lists:seq(0, A - 1)],
    send_all(Pids, {peers, list_to_tuple(Pids)}),
    Sum = collect(big_done, A, 0),
    send_all(Pids, stop),
    Sum;

bench(chameneos, [C, M]) ->
    Self = self(),
    Mall = spawn(fun() -> mall(Self, C, M, none, 0, 0) end),
    [spawn(fun() -> creature(Mall, I rem 3, 0) end) || I <- lists:seq(0, C - 1)],
    receive {chameneos, Sum} -> Sum end;

bench(mandelbrot, [Size, MaxIter, K]) ->
    Self = self(),
    Dx = 3.0 / Size,
    [spawn(fun() ->
                   Lo = J * Size div K,
                   Hi = (J + 1) * Size div K,
                   Self ! {mandel, mandel_rows(Lo, Hi, Size, MaxIter, Dx, 0)}
           end) || J <- lists:seq(0, K - 1)],
    collect(mandel, K, 0).

collect_ready(0, C) -> C;
collect_ready(K, C) -> receive ready -> collect_ready(K - 1, C + 1) end.

%% skynet
skynet(Parent, Num, 1) ->
    Parent ! {sky, Num};
skynet(Parent, Num, Size) ->
    Self = self(),
    Sz = Size div 10,
    skynet_spawn(Self, Num, Sz, 0),
    Parent ! {sky, collect(sky, 10, 0)}.

skynet_spawn(_, _, _, 10) -> ok;
skynet_spawn(Self, Num, Sz, I) ->
    spawn(fun() -> skynet(Self, Num + I * Sz, Sz) end),
    skynet_spawn(Self, Num, Sz, I + 1).

%% fork-join create
fj_spawn(_, 0) -> ok;
fj_spawn(Self, K) ->
    P = spawn(fun fj_worker/0),
    P ! {go, Self},
    fj_spawn(Self, K - 1).

fj_worker() -> receive {go, From} -> From ! {fj_done, 1} end.

%% ping-pong
ping(_Pong, I, N, Acc) when I > N -> Acc;
ping(Pong, I, N, Acc) ->
    Pong ! {self(), I},
    receive {pong, I} -> ping(Pong, I + 1, N, Acc + I) end.

pong() ->
    receive
        {From, I} -> From ! {pong, I}, pong();
        stop -> ok
    end.

%% gen_server call: gen_server:call/2, the default 5 s timeout (as SPAM's gen_server::call)
gencall(_Server, I, N, Acc) when I > N -> Acc;
gencall(Server, I, N, Acc) -> gencall(Server, I + 1, N, Acc + gen_server:call(Server, I)).

%% thread ring
tr_loop(Root, Next) ->
    receive
        {token, 0, Hops} -> Root ! {tr_done, Hops}, tr_loop(Root, Next);
        {token, Left, Hops} -> Next ! {token, Left - 1, Hops + 1}, tr_loop(Root, Next);
        stop -> ok
    end.

%% once-around ring
ring_build(0, Next) -> Next;
ring_build(K, Next) ->
    P = spawn(fun() -> receive {ring, T} -> Next ! {ring, T + 1} end end),
    ring_build(K - 1, P).

%% fan-in
produce(Counter, 0) -> Counter ! done;
produce(Counter, K) -> Counter ! inc, produce(Counter, K - 1).

counter(Root, 0, Count) -> Root ! {count, Count};
counter(Root, Producers, Count) ->
    receive
        inc -> counter(Root, Producers, Count + 1);
        done -> counter(Root, Producers - 1, Count)
    end.

%% fork-join throughput
thr_send(_Pids, 0) -> ok;
thr_send(Pids, K) -> send_all(Pids, msg), thr_send(Pids, K - 1).

thr(Root, N, N) -> Root ! {thr, N};
thr(Root, N, C) -> receive msg -> thr(Root, N, C + 1) end.

%% fib
fib(Parent, N) when N < 2 -> Parent ! {fib, N};
fib(Parent, N) ->
    Self = self(),
    spawn(fun() -> fib(Self, N - 1) end),
    spawn(fun() -> fib(Self, N - 2) end),
    receive {fib, A} -> receive {fib, B} -> Parent ! {fib, A + B} end end.

%% big: xorshift32 picks the peer, the same generator as suite.rs
xorshift32(X0) ->
    X1 = X0 bxor ((X0 bsl 13) band 16#FFFFFFFF),
    X2 = X1 bxor (X1 bsr 17),
    X2 bxor ((X2 bsl 5) band 16#FFFFFFFF).

big_ping(Peers, Me, A, Seed0) ->
    Seed = xorshift32(Seed0),
    T = case Seed rem A of
            Me -> (Me + 1) rem A;
            Other -> Other
        end,
    element(T + 1, Peers) ! {ping, self()},
    Seed.

big_start(Root, Peers, Me, A, N) ->
    Seed = big_ping(Peers, Me, A, Me + 1),
    big_loop(Root, Peers, Me, A, Seed, N - 1, 0).

big_loop(Root, Peers, Me, A, Seed, Left, Got) ->
    receive
        {ping, From} ->
            From ! pong,
            big_loop(Root, Peers, Me, A, Seed, Left, Got);
        pong when Left > 0 ->
            Seed1 = big_ping(Peers, Me, A, Seed),
            big_loop(Root, Peers, Me, A, Seed1, Left - 1, Got + 1);
        pong ->
            Root ! {big_done, Got + 1},
            big_loop(Root, Peers, Me, A, Seed, 0, Got + 1);
        stop -> ok
    end.

%% chameneos
complement(C, C) -> C;
complement(A, B) -> 3 - A - B.

creature(Mall, Color, Met) ->
    Mall ! {meet, Color, self()},
    receive
        {meet, Other, Partner} ->
            New = complement(Color, Other),
            Partner ! {change, New},
            creature(Mall, New, Met + 1);
        {change, New} ->
            creature(Mall, New, Met + 1);
        exit ->
            Mall ! {count, Met}
    end.

mall(Root, C, M, Waiting, Reported, Sum) ->
    receive
        {meet, Color, From} when M > 0 ->
            case Waiting of
                none -> mall(Root, C, M, From, Reported, Sum);
                W -> W ! {meet, Color, From}, mall(Root, C, M - 1, none, Reported, Sum)
            end;
        {meet, _, From} ->
            From ! exit,
            mall(Root, C, M, Waiting, Reported, Sum);
        {count, K} when Reported + 1 =:= C ->
            Root ! {chameneos, Sum + K};
        {count, K} ->
            mall(Root, C, M, Waiting, Reported + 1, Sum + K)
    end.

%% mandelbrot: op for op like suite::mandel_rows, so the sums agree bit for bit
mandel_rows(Y, Hi, _Size, _MaxIter, _Dx, Acc) when Y >= Hi -> Acc;
mandel_rows(Y, Hi, Size, MaxIter, Dx, Acc) ->
    Ci = -1.5 + Y * Dx,
    mandel_rows(Y + 1, Hi, Size, MaxIter, Dx, mandel_cols(0, Size, Ci, MaxIter, Dx, Acc)).

mandel_cols(X, Size, _Ci, _MaxIter, _Dx, Acc) when X >= Size -> Acc;
mandel_cols(X, Size, Ci, MaxIter, Dx, Acc) ->
    Cr = -2.0 + X * Dx,
    I = mandel_pixel(0.0, 0.0, Cr, Ci, 0, MaxIter),
    mandel_cols(X + 1, Size, Ci, MaxIter, Dx, Acc + I).

mandel_pixel(_X, _Y, _Cr, _Ci, I, MaxIter) when I >= MaxIter -> I;
mandel_pixel(X, Y, Cr, Ci, I, MaxIter) ->
    X2 = X * X,
    Y2 = Y * Y,
    case X2 + Y2 > 4.0 of
        true -> I;
        false -> mandel_pixel(X2 - Y2 + Cr, 2.0 * X * Y + Ci, Cr, Ci, I + 1, MaxIter)
    end.
