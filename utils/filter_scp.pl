#!/usr/bin/env perl
# utils/filter_scp.pl [--exclude] [-f N] <id-list> [<in.scp>...] > <out.scp>
# Kaldi's filter_scp.pl: the lines of <in.scp> (or stdin) whose N-th field (default 1) is (with
# --exclude: is not) the first field of a line of <id-list>, in <in.scp>'s order.
use strict;
use warnings;

my ($exclude, $field) = (0, 1);
while (@ARGV && $ARGV[0] =~ /^-/) {
  my $opt = shift @ARGV;
  if ($opt eq '--exclude') { $exclude = 1; }
  elsif ($opt eq '-f') { $field = shift @ARGV; }
  elsif ($opt =~ /^-f(\d+)$/) { $field = $1; }
  else { die "ERROR (filter_scp.pl): $0:0: unknown option $opt; usage: $0 [--exclude] [-f N] <id-list> [<in.scp>]\n"; }
}
defined $field && $field =~ /^[1-9]\d*$/
  or die "ERROR (filter_scp.pl): $0:0: -f needs a field number >= 1\n";
@ARGV >= 1 or die "ERROR (filter_scp.pl): $0:0: usage: $0 [--exclude] [-f N] <id-list> [<in.scp>]\n";
my $idlist = shift @ARGV;
open(my $ids, '<', $idlist) or die "ERROR (filter_scp.pl): $idlist:0: cannot open: $!\n";
my %seen;
while (<$ids>) {
  my @f = split;
  $seen{$f[0]} = 1 if @f;
}
close($ids);
while (<>) {
  my @f = split;
  my $key = $f[$field - 1];
  next unless defined $key;
  print if ($exclude xor exists $seen{$key});
}
