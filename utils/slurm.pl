#!/usr/bin/env perl
# utils/slurm.pl: run.pl's interface on a Slurm cluster. Submits the jobs as one array job
# (sbatch --array=1-N) and waits for them; one log file per job, exit status 1 naming the failed
# logs. Options (--mem, --gpu, --time, --num-threads, --partition, ...) become sbatch flags
# through a config (built in below, or --config FILE in the same format).
use strict;
use warnings;
use Cwd qw(abs_path getcwd);
use File::Basename qw(basename dirname);
use File::Path qw(make_path);
use POSIX qw(strftime);
use lib dirname(abs_path($0)) . '/lib';
use SeedkitJobs qw(parse_job_args substitute job_log fail_summary);

my $prog = 'slurm.pl';
my $default_config = <<'EOF';
# The sbatch command, then how each option maps to sbatch flags ($0 is the option's value).
# "default name=value" applies when the option is not given.
command sbatch --export=ALL
option mem=* --mem=$0
option mem=0
option time=* --time=$0
option num_threads=* --cpus-per-task=$0
option num_threads=1 --cpus-per-task=1
default gpu=0
option gpu=0
option gpu=* --gres=gpu:$0
option partition=* --partition=$0
option account=* --account=$0
option qos=* --qos=$0
option constraint=* --constraint=$0
EOF

my $usage = <<"EOF";
Usage: utils/slurm.pl [options] [JOB=1:N] <log-file> <command> [<args> ...]
  Same as utils/run.pl, on Slurm: writes a batch script <log-dir>/q/<name>.sh, submits it with
  "sbatch --array=1-N", waits (polling the exit-status files each task writes) and exits 1
  naming the failed logs. Tasks run in the current directory with the submitting shell's
  environment (sbatch --export=ALL). With squeue on PATH, tasks of a job Slurm no longer lists
  that left no exit status fail after \$SLURM_PL_GRACE seconds (default 60).
e.g.: utils/slurm.pl --mem 4G --gpu 1 JOB=1:4 exp/log/extract.JOB.log seedkit-extract ...
Options:
  --max-jobs-run N    at most N tasks at once (--array=1-N%M)
  --mem 4G            --mem=4G
  --gpu N             --gres=gpu:N (0: none)
  --num-threads N     --cpus-per-task=N
  --time T            --time=T
  --partition P, --account A, --qos Q, --constraint C
  --config FILE       replace the option map; the built-in one is:
$default_config
EOF

my %args = eval { parse_job_args($prog, $usage, @ARGV) };
if ($@) { print STDERR $@; exit 1; }

sub fail { print STDERR "ERROR ($prog): $_[0]\n"; exit 1; }

# --- the option map --------------------------------------------------------------------------
my ($config_text, $config_name, $max_jobs) = ($default_config, 'the built-in config', 0);
my @given;  # [name_with_underscores, value]
for my $opt (@{$args{options}}) {
  my ($name, $value) = @$opt;
  $name =~ s/-/_/g;
  if ($name eq 'config') {
    open(my $fh, '<', $value) or fail("cannot read the config $value: $!");
    local $/;
    $config_text = <$fh>;
    $config_name = $value;
  } elsif ($name eq 'max_jobs_run') {
    ($value =~ m/^\d+$/ && $value > 0) or fail("--max-jobs-run needs a positive integer");
    $max_jobs = $value;
  } else {
    push @given, [$name, $value];
  }
}

my (@command, %defaults, %exact, %wild);
my $n = 0;
for my $line (split /\n/, $config_text) {
  $n++;
  $line =~ s/^\s+|\s+$//g;
  next if $line eq '' || $line =~ m/^#/;
  if ($line =~ m/^command\s+(.+)$/) {
    @command = split ' ', $1;
  } elsif ($line =~ m/^default\s+(\w+)=(\S+)$/) {
    $defaults{$1} = $2;
  } elsif ($line =~ m/^option\s+(\w+)=\*\s*(.*)$/) {
    $wild{$1} = $2;
  } elsif ($line =~ m/^option\s+(\w+)=(\S+)\s*(.*)$/) {
    $exact{"$1=$2"} = $3;
  } else {
    fail("$config_name:$n: cannot parse '$line' (expected 'command ...', "
         . "'option name=value flags', 'option name=* flags with \$0' or 'default name=value')");
  }
}
@command or fail("$config_name: no 'command' line (e.g. 'command sbatch --export=ALL')");

sub flags_for {
  my ($name, $value) = @_;
  return split(' ', $exact{"$name=$value"}) if exists $exact{"$name=$value"};
  if (exists $wild{$name}) {
    (my $flags = $wild{$name}) =~ s/\$0/$value/g;
    return split(' ', $flags);
  }
  (my $dashed = $name) =~ s/_/-/g;
  fail("option --$dashed is not supported by $config_name; add a line "
       . "'option $name=* <sbatch flags with \$0>' to a config given with --config");
}

my @flags;
my %seen = map { $_->[0] => 1 } @given;
push @flags, flags_for(@$_) for @given;
push @flags, flags_for($_, $defaults{$_}) for grep { !$seen{$_} } sort keys %defaults;

# --- the batch script ------------------------------------------------------------------------
my ($start, $end, $jobname) = ($args{start}, $args{end}, $args{jobname} // 'JOB');
my $log_pattern = $args{log};
my $qdir = dirname($log_pattern) . '/q';
(my $base = basename($log_pattern)) =~ s/\.?\Q$jobname\E//g;
$base =~ s/\.log$//;
$base = 'job' if $base eq '';
make_path($qdir) unless -d $qdir;
my $script = "$qdir/$base.sh";
my $status_of = sub { "$qdir/$base.$_[0].status" };
unlink($status_of->($_)) for $start .. $end;

sub shell_quote { (my $s = $_[0]) =~ s/'/'\\''/g; return "'$s'"; }

my $array = "$start-$end" . ($max_jobs ? "%$max_jobs" : '');
my @sbatch = (@command, @flags, "--array=$array", "--job-name=$base",
              "--output=$qdir/$base.%a.out", $script);
my $cwd = getcwd();
my $cmd_template = $args{cmd};
my $log_template = $log_pattern;
# Without JOB=, nothing is substituted.
my $subst = defined $args{jobname} ? "//$jobname/\$JOB" : "";

open(my $sh, '>', $script) or fail("cannot write $script: $!");
print $sh <<"EOF";
#!/usr/bin/env bash
# Generated by utils/slurm.pl at @{[strftime('%Y-%m-%d %H:%M:%S', localtime)]}; submitted with:
#   @sbatch
cd @{[shell_quote($cwd)]} || exit 1
JOB=\${SLURM_ARRAY_TASK_ID:?this script runs as a task of a Slurm array job}
cmd_template=@{[shell_quote($cmd_template)]}
log_template=@{[shell_quote($log_template)]}
cmd=\${cmd_template$subst}
log=\${log_template$subst}
status_file=@{[shell_quote("$qdir/$base.")]}\$JOB.status
mkdir -p "\$(dirname "\$log")"
t0=\$(date +%s)
{
  echo "# \$cmd "
  echo "# Started at \$(date)"
  echo "# Running on \$(hostname) as Slurm job \${SLURM_ARRAY_JOB_ID:-?}_\$JOB"
  echo "#"
} > "\$log"
bash -o pipefail -c "\$cmd" >> "\$log" 2>&1
ret=\$?
t=\$(( \$(date +%s) - t0 ))
echo "# Accounting: time=\$t threads=\${SLURM_CPUS_PER_TASK:-1}" >> "\$log"
echo "# Ended (code \$ret) at \$(date), elapsed time \$t seconds" >> "\$log"
echo \$ret > "\$status_file.tmp" && mv "\$status_file.tmp" "\$status_file"
exit \$ret
EOF
close($sh) or fail("cannot write $script: $!");

# --- submit and wait -------------------------------------------------------------------------
# sbatch's stderr is read with its stdout: its error ("Unable to contact slurm controller",
# "Requested node configuration is not available") goes into the one ERROR line.
my $pid = open(my $ph, '-|') // fail("cannot fork to run $command[0]: $!");
if (!$pid) {
  open(STDERR, '>&', \*STDOUT);
  { no warnings 'exec'; exec { $sbatch[0] } @sbatch; }
  syswrite(STDOUT, "cannot run $command[0]: $!\n");
  POSIX::_exit(127);
}
my $out = do { local $/; <$ph> } // '';
close($ph);
my $status = $? >> 8;
if ($? != 0 || $out !~ m/Submitted batch job (\d+)/) {
  my $said = join('; ', grep { m/\S/ } split(/\n/, $out)) || 'no output';
  fail("submission failed (status $status): $said; check that Slurm is up (sinfo) and "
       . "accepts these options; the command was: @sbatch");
}
my $slurm_id = $1;

my $have_scancel = system('command -v scancel >/dev/null 2>&1') == 0;

# A watchdog cancels the array when slurm.pl dies without finishing, by any signal, SIGKILL
# included (which no handler can catch): it runs in its own session (a kill of slurm.pl's process
# group spares it) and blocks on a pipe whose only write end slurm.pl holds. At the end slurm.pl
# writes "d" (done); end-of-file without it means slurm.pl is gone: scancel.
if ($have_scancel) {
  pipe(my $dog_r, my $dog_w) or fail("cannot make a pipe: $!");
  my $dog = fork() // fail("cannot fork the scancel watchdog: $!");
  if ($dog == 0) {
    close($dog_w);
    POSIX::setsid();
    $SIG{$_} = 'IGNORE' for qw(INT TERM HUP);
    open(STDIN, '<', '/dev/null');
    open(STDOUT, '>', '/dev/null');
    open(STDERR, '>', '/dev/null');
    my $buf = '';
    sysread($dog_r, $buf, 1);
    POSIX::_exit(0) if $buf eq 'd';
    { no warnings 'exec'; exec('scancel', $slurm_id); }
    POSIX::_exit(1);
  }
  close($dog_r);
  $main::dog_w = $dog_w;
}
END { if ($main::dog_w) { syswrite($main::dog_w, 'd'); close($main::dog_w); } }
for my $sig (qw(INT TERM HUP)) {
  $SIG{$sig} = sub {
    system('scancel', $slurm_id) if $have_scancel;
    print STDERR "ERROR ($prog): interrupted (SIG$sig)"
      . ($have_scancel ? "; cancelled Slurm job $slurm_id\n" : "\n");
    exit 1;
  };
}

# Poll for the status files. With squeue available, a job Slurm no longer knows whose tasks left
# no status (killed for time or memory, node failure) fails after a grace period for slow shared
# file systems ($SLURM_PL_GRACE seconds, default 60).
my $have_squeue = system('command -v squeue >/dev/null 2>&1') == 0;
my $grace = $ENV{SLURM_PL_GRACE} // 60;
$grace =~ m/^\d+$/ or fail("SLURM_PL_GRACE must be a number of seconds, got '$grace'");
my $check_every = $grace < 20 ? $grace / 2 : 10;
my ($sleep, $last_check, $gone_since, %vanished) = (0.1, 0, undef);
while (1) {
  my @missing = grep { !-f $status_of->($_) } $start .. $end;
  last unless @missing;
  if ($have_squeue && time - $last_check >= $check_every) {
    $last_check = time;
    my $q = `squeue -h -j $slurm_id -o %i 2>&1`;
    my $finished = ($? == 0 && $q !~ m/\S/) || $q =~ m/Invalid job id/i;
    $gone_since //= time if $finished;
    if (defined $gone_since && time - $gone_since >= $grace) {
      $vanished{$_} = 1 for @missing;
      last;
    }
  }
  select(undef, undef, undef, $sleep);
  $sleep = $sleep * 1.5 > 5 ? 5 : $sleep * 1.5;
}

my @failed;
for my $id ($start .. $end) {
  my $log = job_log(\%args, $id);
  if ($vanished{$id}) {
    print STDERR "$prog: task $id of Slurm job $slurm_id ended without an exit status (killed "
      . "for time or memory?); see $qdir/$base.$id.out\n";
    push @failed, [$id, 'none', $log];
    next;
  }
  open(my $fh, '<', $status_of->($id)) or fail("cannot read " . $status_of->($id) . ": $!");
  my $code = <$fh> // '';
  chomp $code;
  push @failed, [$id, $code, $log] if $code ne '0';
}
exit fail_summary($prog, \%args, @failed);
