#!/usr/bin/perl
# test/lib/tap_count.pl [--pgtap PSQL] --counts FILE TESTFILE... — run TAP test files as prove does
# (with --pgtap: SQL files run through PSQL against PGHOST/PGPORT/PGDATABASE, as pg_prove does),
# print prove's report, and write one line `PASSED FAILED SKIPPED` to FILE, counted per subtest:
#   - an `ok` line passes, unless it carries a SKIP directive: then it is skipped, not passed;
#   - a `not ok` line fails (a `not ok # TODO` passes, as in prove);
#   - a file that skips as a whole (`1..0 # SKIP why`) is one skipped;
#   - a file that dies, breaks its plan or exits non-zero without a failing subtest is one failure
#     more (its unrun subtests are not counted).
# test/run.sh adds these to its summary line.
use strict;
use warnings;
use Getopt::Long;
use TAP::Harness;

my ($psql, $counts);
GetOptions('pgtap=s' => \$psql, 'counts=s' => \$counts) or die "usage: $0 [--pgtap PSQL] --counts FILE FILE...\n";
die "usage: $0 [--pgtap PSQL] --counts FILE FILE...\n" unless $counts;

my ($passed, $failed, $skipped) = (0, 0, 0);
my @files;
for my $file (@ARGV)
{
	if (-f $file)
	{
		push @files, $file;
	}
	else
	{
		print "$file: no such test file\n";
		$failed++;
	}
}

my %opt = (verbosity => 0, failures => 1, comments => 1, color => 0);
$opt{sources} = { pgTAP => { suffix => '.sql', psql => $psql } } if defined $psql;
my $agg = TAP::Harness->new(\%opt)->runtests(@files);

for my $file ($agg->descriptions)
{
	for my $p ($agg->parsers($file))
	{
		if ($p->skip_all)
		{
			$skipped++;
			next;
		}
		my %bad = map { $_ => 1 } $p->failed;
		my $skip = grep { !$bad{$_} } $p->skipped;
		my $nbad = keys %bad;
		$passed += $p->tests_run - $nbad - $skip;
		$failed += $nbad;
		$skipped += $skip;
		$failed++ if $p->parse_errors || $p->wait || ($p->exit && !$nbad);
	}
}
open(my $fh, '>', $counts) or die "cannot write $counts: $!\n";
print $fh "$passed $failed $skipped\n";
close($fh);
exit($failed ? 1 : 0);
