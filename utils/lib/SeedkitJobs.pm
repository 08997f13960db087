package SeedkitJobs;
# What utils/run.pl and utils/slurm.pl share: their command line
#   [options] [JOB=1:N] <log-file> <command> [<args> ...]
# (options are "--name value" pairs, before or after JOB=), Kaldi's way of joining the command
# words into one shell command, and the failure summary. Only perl-base modules are used, so the
# scripts run on a bare Debian.
use strict;
use warnings;
use Exporter 'import';

our @EXPORT_OK = qw(parse_job_args command_string substitute job_log fail_summary);

# Parses @$argv; returns a hash: options => [[name, value], ...] (name without "--", dashes kept),
# jobname, start, end (start == end and jobname undef without JOB=), log, cmd (one shell string).
# Dies with a usage message on a malformed command line.
sub parse_job_args {
  my ($prog, $usage, @argv) = @_;
  my (@options, $jobname, $start, $end);
  while (@argv) {
    my $a = $argv[0];
    if ($a eq '--help' || $a eq '-h') {
      print $usage;
      exit 0;
    } elsif ($a =~ m/^--([\w-]+)=(.*)$/s) {
      push @options, [$1, $2];
      shift @argv;
    } elsif ($a =~ m/^--([\w-]+)$/) {
      @argv >= 2 or die "${usage}ERROR ($prog): option $a needs a value\n";
      push @options, [$1, $argv[1]];
      splice(@argv, 0, 2);
    } elsif (!defined $jobname && $a =~ m/^([A-Za-z_]\w*)=(\d+):(\d+)$/) {
      ($jobname, $start, $end) = ($1, $2, $3);
      $start <= $end or die "ERROR ($prog): bad job range $a (first job after last)\n";
      shift @argv;
    } elsif (!defined $jobname && $a =~ m/^([A-Za-z_]\w*)=(\d+)$/) {
      ($jobname, $start, $end) = ($1, $2, $2);
      shift @argv;
    } elsif (!defined $jobname && $a =~ m{^[^=/\s]+=.*:}) {
      # as Kaldi's run.pl: NAME=...:... that is not NAME=FIRST:LAST is a mistake, not a log name
      die "ERROR ($prog): bad job spec '$a'; expected NAME=FIRST:LAST with integers "
        . "FIRST <= LAST, e.g. JOB=1:4\n";
    } else {
      last;
    }
  }
  @argv >= 2 or die "${usage}ERROR ($prog): expected a log file and a command\n";
  my $log = shift @argv;
  if (defined $jobname && $start != $end && index($log, $jobname) < 0) {
    die "ERROR ($prog): you are running $jobname=$start:$end but the log file $log does not "
      . "contain $jobname: every job would write the same log\n";
  }
  ($start, $end) = (1, 1) unless defined $jobname;
  return (options => \@options, jobname => $jobname, start => $start, end => $end,
          log => $log, cmd => command_string(@argv));
}

# Kaldi's rule for joining the command words: a word without whitespace goes as it is (so "\|",
# ">" or "2>&1" given as separate words act as shell operators); a word with whitespace is quoted
# (double quotes unless it holds one, else single quotes). One extension: a command given as a
# single word is a whole shell command line and goes as it is ('run.pl log "a | b"').
sub command_string {
  return $_[0] if @_ == 1;
  my @words;
  for my $w (@_) {
    if ($w =~ m/^\S+$/) {
      push @words, $w;
    } elsif ($w !~ m/"/) {
      push @words, "\"$w\"";
    } else {
      (my $q = $w) =~ s/'/'\\''/g;
      push @words, "'$q'";
    }
  }
  return join(' ', @words);
}

# Every occurrence of the job name (e.g. JOB) in $text replaced by $id, as Kaldi does.
sub substitute {
  my ($text, $jobname, $id) = @_;
  return $text unless defined $jobname;
  $text =~ s/\Q$jobname\E/$id/g;
  return $text;
}

sub job_log { my ($args, $id) = @_; return substitute($args->{log}, $args->{jobname}, $id); }

# Prints one line per failed job, then Kaldi's summary line; returns the exit status (0 or 1).
# $failed: [[id, code, log], ...].
sub fail_summary {
  my ($prog, $args, @failed) = @_;
  return 0 unless @failed;
  my $njobs = $args->{end} - $args->{start} + 1;
  if ($njobs == 1) {
    my (undef, $code, $log) = @{$failed[0]};
    print STDERR "$prog: job failed (exit code $code), log is in $log\n";
    return 1;
  }
  for my $f (@failed) {
    my ($id, $code, $log) = @$f;
    print STDERR "$prog: job $id failed (exit code $code), log is in $log\n";
  }
  my $pattern = substitute($args->{log}, $args->{jobname}, '*');
  print STDERR "$prog: " . scalar(@failed) . " / $njobs failed, log is in $pattern\n";
  return 1;
}

1;
