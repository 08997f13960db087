#!/usr/bin/env perl
# utils/run.pl: run a command, or an array of jobs, on this machine, one log file per job
# (Kaldi's run.pl interface, so cmd.sh can switch between run.pl and slurm.pl).
use strict;
use warnings;
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use POSIX qw(strftime);
use lib dirname(abs_path($0)) . '/lib';
use SeedkitJobs qw(parse_job_args substitute job_log fail_summary);

my $prog = 'run.pl';
my $usage = <<'EOF';
Usage: utils/run.pl [options] [JOB=1:N] <log-file> <command> [<args> ...]
  Runs <command> once, or N times with every "JOB" in the log name and the command replaced by
  the job id (1..N), at most --max-jobs-run at once. Each log starts with the command line and
  the start time and ends with the exit status and the elapsed time. Exits 1 naming the failed
  logs if any job fails. Commands run under "bash -o pipefail"; a word with spaces is quoted,
  so write pipes and redirections as separate words (\| , \>).
e.g.: utils/run.pl JOB=1:4 exp/log/extract.JOB.log seedkit-extract data/split4/JOB ark:x.JOB.ark
Options:
  --max-jobs-run N   jobs at once (default: the number of CPU cores)
  --mem, --gpu, --num-threads, --time, --partition, --account, --config ... X
                     accepted and ignored (they are for utils/slurm.pl)
EOF

my %args = eval { parse_job_args($prog, $usage, @ARGV) };
if ($@) { print STDERR $@; exit 1; }

my $max_jobs = 0;
for my $opt (@{$args{options}}) {
  my ($name, $value) = @$opt;
  next unless $name eq 'max-jobs-run' || $name eq 'max_jobs_run';
  if ($value !~ m/^\d+$/ || $value < 1) {
    print STDERR "ERROR ($prog): --max-jobs-run needs a positive integer, got '$value'\n";
    exit 1;
  }
  $max_jobs = $value;
}
if ($max_jobs == 0) {
  # The cores this process may use (affinity, cgroup cpusets). nproc alone obeys OMP_NUM_THREADS
  # and OMP_THREAD_LIMIT, which the recipes set to 1 per job: --nj 2 then ran one job at a time.
  my $ncpu = `env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc 2>/dev/null`
    || `getconf _NPROCESSORS_ONLN 2>/dev/null` || 1;
  chomp $ncpu;
  $max_jobs = ($ncpu =~ m/^\d+$/ && $ncpu > 0) ? $ncpu : 1;
}

sub now { return strftime('%a %b %e %H:%M:%S %Z %Y', localtime); }

# Each job holds the read end of this pipe; run.pl holds the only write end. When run.pl dies by
# any signal, SIGKILL included (an out-of-memory killer, a closed terminal), the kernel closes the
# write end and every job sees end-of-file: it then stops its command's process group (TERM, and
# KILL after $kill_grace seconds), so no job outlives its run.pl.
pipe(my $alive_r, my $alive_w)
  or do { print STDERR "ERROR ($prog): cannot make a pipe: $!\n"; exit 1; };
my $kill_grace = 5;
my $runpl_pid = $$;

# Waits for the command (pid $cpid, in this job's process group, which the job's wrapper leads)
# while watching run.pl: returns the command's wait status, or stops the whole group when run.pl
# is gone (then never returns).
sub wait_or_orphan_kill {
  my ($cpid) = @_;
  my $rin = '';
  vec($rin, fileno($alive_r), 1) = 1;
  local $SIG{CHLD} = sub { };  # the command's exit interrupts select(): no polling delay
  while (1) {
    my $w = waitpid($cpid, POSIX::WNOHANG());
    return $? if $w == $cpid;
    return -1 if $w < 0;
    my $rout;
    my $n = select($rout = $rin, undef, undef, 0.5);  # 0.5: a SIGCHLD just before select()
    next unless $n > 0;
    my $buf;
    next if sysread($alive_r, $buf, 1);  # never written to: only end-of-file wakes us
    # run.pl is gone: stop the command and everything it started in this process group.
    print "# run.pl (pid $runpl_pid) is gone: stopping this job at " . now() . "\n";
    kill('TERM', -$$);
    my $t = time;
    while (time - $t < $kill_grace) {
      last if waitpid($cpid, POSIX::WNOHANG()) == $cpid;
      select(undef, undef, undef, 0.1);
    }
    print "# Ended (killed: its run.pl died) at " . now() . "\n";
    close(STDOUT);
    kill('KILL', -$$);  # what ignored TERM, and this wrapper (the last one of the group)
    POSIX::_exit(137);
  }
}

# The child process of one job (the leader of its own process group): writes the log header,
# runs the command with stdout and stderr appended to the log, writes the footer, exits with the
# command's status.
sub run_job {
  my ($id) = @_;
  close($alive_w);
  $SIG{TERM} = 'IGNORE';  # a group TERM (run.pl stopped, or run.pl gone) is for the command
  my $log = job_log(\%args, $id);
  my $cmd = substitute($args{cmd}, $args{jobname}, $id);
  my $dir = dirname($log);
  eval { make_path($dir) unless -d $dir; 1 } or do {
    print STDERR "ERROR ($prog): cannot create the log directory $dir: $@";
    exit 1;
  };
  open(my $fh, '>', $log) or do { print STDERR "ERROR ($prog): $log: cannot write: $!\n"; exit 1; };
  my $t0 = time;
  print $fh "# $cmd \n# Started at " . now() . "\n#\n";
  close($fh);
  open(STDOUT, '>>', $log) or exit 1;
  open(STDERR, '>&', \*STDOUT) or exit 1;
  my $cpid = fork();
  if (defined $cpid && $cpid == 0) {
    $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
    { no warnings 'exec'; exec('bash', '-o', 'pipefail', '-c', $cmd); }
    POSIX::_exit(127);
  }
  my $ret = defined $cpid ? wait_or_orphan_kill($cpid) : -1;
  my $code = $ret == -1 ? 127 : ($ret & 127) ? 128 + ($ret & 127) : $ret >> 8;
  my $elapsed = time - $t0;
  print "# Accounting: time=$elapsed threads=1\n";
  print "# Ended (code $code) at " . now() . ", elapsed time $elapsed seconds\n";
  close(STDOUT);
  POSIX::_exit($code > 255 ? 255 : $code);
}

my %running;  # pid -> job id
my @failed;

# Stop the running jobs (each is its own process group) when run.pl itself is stopped.
for my $sig (qw(INT TERM HUP)) {
  $SIG{$sig} = sub {
    kill('TERM', -$_) for keys %running;
    print STDERR "ERROR ($prog): interrupted (SIG$sig); stopped " . scalar(keys %running) . " jobs\n";
    exit 1;
  };
}

sub reap_one {
  my $pid = wait();
  return if $pid <= 0 || !exists $running{$pid};
  my $id = delete $running{$pid};
  my $code = ($? & 127) ? 128 + ($? & 127) : $? >> 8;
  push @failed, [$id, $code, job_log(\%args, $id)] if $code != 0;
}

for my $id ($args{start} .. $args{end}) {
  reap_one() while keys(%running) >= $max_jobs;
  my $pid = fork();
  if (!defined $pid) {
    print STDERR "ERROR ($prog): cannot fork: $!\n";
    kill('TERM', -$_) for keys %running;
    exit 1;
  }
  if ($pid == 0) {
    setpgrp(0, 0);
    $SIG{$_} = 'DEFAULT' for qw(INT TERM HUP);
    run_job($id);
  }
  $running{$pid} = $id;
}
reap_one() while keys %running;

@failed = sort { $a->[0] <=> $b->[0] } @failed;
exit fail_summary($prog, \%args, @failed);
