#!/usr/bin/env perl
# utils/spk2utt_to_utt2spk.pl [spk2utt] > utt2spk
# Reads "<spk> <utt1> <utt2> ..." lines (files or stdin) and writes "<utt> <spk>" lines.
use strict;
use warnings;
for my $f (@ARGV) {
  next if $f eq '-' || -f $f;
  print STDERR "ERROR (spk2utt_to_utt2spk.pl): $f:0: file not found\n";
  exit 1;
}
while (my $line = <>) {
  my ($spk, @utts) = split ' ', $line;
  if (!@utts) {
    print STDERR "ERROR (spk2utt_to_utt2spk.pl): $ARGV:$.: expected '<spk> <utt1> ...', got: "
      . $line;
    exit 1;
  }
  print "$_ $spk\n" for @utts;
} continue {
  close ARGV if eof;
}
