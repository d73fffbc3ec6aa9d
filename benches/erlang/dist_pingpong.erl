%% Remote ping-pong between two nodes (the `dist-pingpong` binary, src/bin/dist_pingpong.rs).
%%
%% The protocol, the same on the SPAM side:
%%   {From, hello}  -> From ! {hello, PongerPid}   (once, sent to the registered name)
%%   {From, N}      -> From ! {pong, N}            (N an integer: one timed round trip)
%%   stop           -> the ponger exits
%%
%% pong/0 (`-s dist_pingpong pong`): spawns the ponger, registers it as dist_pong, prints
%% `ready`. The node stays up (-noshell) until the harness kills it.
%%
%% ping/1 (`-run dist_pingpong ping PongNode N Runs Warmup`): Warmup untimed round trips, then
%% Runs timed runs of N round trips each, timed with erlang:monotonic_time; prints
%% `RUN <nanoseconds>` per run, then `DONE`, and halts 0. A reply whose counter is not the one
%% sent prints `MISMATCH ...` and halts 1; no reply within 30 s prints `TIMEOUT ...`, halts 1.
-module(dist_pingpong).
-export([pong/0, ping/1]).

-define(REPLY_TIMEOUT, 30000).

pong() ->
    P = spawn(fun pong_loop/0),
    register(dist_pong, P),
    io:format("ready~n").

pong_loop() ->
    receive
        {From, N} when is_integer(N) ->
            From ! {pong, N},
            pong_loop();
        {From, hello} ->
            From ! {hello, self()},
            pong_loop();
        stop ->
            ok
    end.

ping([NodeS, NS, RunsS, WarmupS]) ->
    Node = list_to_atom(NodeS),
    [N, Runs, Warmup] = [list_to_integer(S) || S <- [NS, RunsS, WarmupS]],
    Me = self(),
    {dist_pong, Node} ! {Me, hello},
    Pong =
        receive
            {hello, P} -> P
        after ?REPLY_TIMEOUT -> fail("TIMEOUT no answer to hello from ~p", [Node])
        end,
    next(rounds(Pong, Me, 1, Warmup)),
    lists:foldl(
        fun(_, First) ->
            Last = First + N - 1,
            T0 = erlang:monotonic_time(nanosecond),
            R = rounds(Pong, Me, First, Last),
            T1 = erlang:monotonic_time(nanosecond),
            next(R),
            io:format("RUN ~b~n", [T1 - T0]),
            Last + 1
        end,
        Warmup + 1,
        lists:seq(1, Runs)
    ),
    io:format("DONE~n"),
    halt(0).

%% Round trips First..Last, one at a time.
rounds(_Pong, _Me, I, Last) when I > Last ->
    ok;
rounds(Pong, Me, I, Last) ->
    Pong ! {Me, I},
    receive
        {pong, I} -> rounds(Pong, Me, I + 1, Last);
        Other -> {mismatch, I, Other}
    after ?REPLY_TIMEOUT -> {timeout, I}
    end.

next(ok) -> ok;
next({mismatch, I, Got}) -> fail("MISMATCH sent ~b got ~p", [I, Got]);
next({timeout, I}) -> fail("TIMEOUT no reply to round trip ~b", [I]).

fail(Fmt, Args) ->
    io:format(Fmt ++ "~n", Args),
    halt(1).
