"""The HJ 212-2017 packets of shared/domain.md §10.6 with verified length and CRC."""

from __future__ import annotations

# shared/domain.md §10.6, copied verbatim (V0 is the standard's own Appendix A example).
V0 = (b"##0101QN=20160801085857223;ST=32;CN=1062;PW=100000;MN=010000A8900016F000169DC0;"
      b"Flag=5;CP=&&RtdInterval=30&&1C80\r\n")
V1 = (b"##0279QN=20260315143000123;ST=22;CN=2011;PW=123456;MN=010000A8900016F000169DC1;"
      b"Flag=5;CP=&&DataTime=20260315143000;a34004-Rtd=58,a34004-Flag=N;a34002-Rtd=96,"
      b"a34002-Flag=N;a21026-Rtd=9,a21026-Flag=N;a21004-Rtd=41,a21004-Flag=N;a21005-Rtd=0.8,"
      b"a21005-Flag=N;a05024-Rtd=112,a05024-Flag=N&&F6C1\r\n")
V2 = (b"##0630QN=20260315150000001;ST=31;CN=2061;PW=123456;MN=020000B7700021E000214AA7;"
      b"Flag=5;CP=&&DataTime=20260315140000;a00000-Cou=350000.0,a00000-Min=93.8,"
      b"a00000-Avg=97.2,a00000-Max=101.5,a00000-Flag=N;a34013-Cou=1.12,a34013-Min=2.6,"
      b"a34013-Avg=3.2,a34013-Max=4.1,a34013-ZsAvg=4.1,a34013-Flag=N;a21026-Cou=6.475,"
      b"a21026-Min=15.1,a21026-Avg=18.5,a21026-Max=22.7,a21026-ZsAvg=23.5,a21026-Flag=N;"
      b"a21002-Cou=9.94,a21002-Min=24.0,a21002-Avg=28.4,a21002-Max=33.9,a21002-ZsAvg=36.1,"
      b"a21002-Flag=N;a19001-Avg=9.2,a19001-Flag=N;a01011-Avg=12.36,a01011-Flag=N;"
      b"a01012-Avg=52.4,a01012-Flag=N;a01013-Avg=-0.215,a01013-Flag=N;a01014-Avg=11.8,"
      b"a01014-Flag=N&&E8C1\r\n")
V3 = (b"##0087QN=20260315150000001;ST=91;CN=9014;PW=123456;MN=020000B7700021E000214AA7;"
      b"Flag=4;CP=&&&&42C0\r\n")
V4 = (b"##0258QN=20260315151000001;ST=31;CN=2051;PW=123456;MN=020000B7700021E000214AA7;"
      b"Flag=4;CP=&&DataTime=20260315150000;a21026-Min=0.0,a21026-Avg=0.4,a21026-Max=1.1,"
      b"a21026-Flag=C;a21002-Min=0.0,a21002-Avg=0.6,a21002-Max=1.3,a21002-Flag=C;"
      b"a19001-Avg=20.9,a19001-Flag=C&&0D80\r\n")
