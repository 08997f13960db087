#!/usr/bin/env perl
# utils/utt2spk_to_spk2utt.pl [utt2spk] > spk2utt
# Reads "<utt> <spk>" lines (files or stdin) and writes "<spk> <utt1> <utt2> ..." with speakers in
# order of first appearance (sorted input gives sorted output).
use strict;
use warnings;
for my $f (@ARGV) {
  next if $f eq '-' || -f $f;
  print STDERR "ERROR (utt2spk_to_spk2utt.pl): $f:0: file not found\n";
  exit 1;
}
my (@spks, %utts);
while (my $line = <>) {
  my @f = split ' ', $line;
  if (@f != 2) {
    print STDERR "ERROR (utt2spk_to_spk2utt.pl): $ARGV:$.: expected '<utt> <spk>', got: $line";
    exit 1;
  }
  push @spks, $f[1] unless exists $utts{$f[1]};
  push @{$utts{$f[1]}}, $f[0];
} continue {
  close ARGV if eof;  # so $. counts lines per file
}
print "$_ @{$utts{$_}}\n" for @spks;
