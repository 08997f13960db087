#!/usr/bin/env perl
# utils/lib/recipe_watchdog.pl PID: started by lock_workdir (utils/lib/recipe.sh) in a session of
# its own. While the recipe (PID) runs it notes, twice a second, every process descended from it
# (and, when PID leads its process group, that group). Once PID is gone, however it ended
# (SIGKILL included), what is left of those processes is stopped: SIGTERM, then SIGKILL after
# $grace seconds. So a killed run.sh leaves no stage running beside the re-run a user starts next,
# and the lock those processes inherited is released with them.
use strict;
use warnings;
use POSIX ();

my $pid = shift // die "usage: $0 PID\n";
my $grace = 5;

# /proc/<p>/stat: (ppid, pgid, start time) of a live process, or () when gone or a zombie.
sub stat_of {
  my ($p) = @_;
  open(my $fh, '<', "/proc/$p/stat") or return ();
  my $line = <$fh> // return ();
  close($fh);
  $line =~ s/^.*\)\s+//s;  # the command name may hold spaces and parentheses
  my @f = split ' ', $line;  # f[0] = state (field 3), f[1] = ppid, f[2] = pgid, f[19] = start
  return () if $f[0] eq 'Z' || $f[0] eq 'X';
  return ($f[1], $f[2], $f[19]);
}

my (undef, $own_pgid, $own_start) = stat_of($pid);
defined $own_start or exit 0;
my $leader = $own_pgid == $pid;

sub alive { my @s = stat_of($pid); return @s && $s[2] == $own_start; }

my %known;  # pid -> start time, every descendant seen so far
sub snapshot {
  my (%children, %start);
  opendir(my $dh, '/proc') or return;
  for my $p (grep { /^\d+$/ } readdir($dh)) {
    my ($ppid, $pgid, $st) = stat_of($p);
    next unless defined $st;
    push @{$children{$ppid}}, $p;
    $start{$p} = $st;
    $known{$p} = $st if $leader && $pgid == $pid && $p != $pid && $p != $$;
  }
  closedir($dh);
  # from the recipe, and from what it started before (children reparented since it died)
  my @todo = ($pid, grep { defined $start{$_} && $start{$_} == $known{$_} } keys %known);
  my %seen;
  while (@todo) {
    my $p = shift @todo;
    next if $seen{$p}++;
    for my $c (@{$children{$p} // []}) {
      next if $c == $$;  # this watchdog: a child of the recipe
      $known{$c} = $start{$c};
      push @todo, $c;
    }
  }
}

# The noted processes still alive (same start time: not a reused pid).
sub survivors {
  my @left;
  for my $p (keys %known) {
    my (undef, undef, $st) = stat_of($p);
    if (defined $st && $st == $known{$p}) { push @left, $p; } else { delete $known{$p}; }
  }
  return @left;
}

while (alive()) {
  snapshot();
  select(undef, undef, undef, 0.5);
}
snapshot();  # children reparented since: their own descendants are still linked to them
my @left = survivors();
exit 0 unless @left;
kill('TERM', @left);
my $t = time;
while (time - $t < $grace && (@left = survivors())) { select(undef, undef, undef, 0.1); }
kill('KILL', @left) if @left;
exit 0;
