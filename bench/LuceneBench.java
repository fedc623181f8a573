// LuceneBench.java -- the Lucene side of bench/peers (Debian's liblucene8-java).
//   java LuceneBench index nori|cjk DIR < docs.tsv      id TAB title TAB text, one per line
//   java LuceneBench search nori|cjk DIR K < queries.tsv  qid TAB text; prints qid TAB ms TAB ids
//     (every query is run twice; the second, warmed-up pass is the one timed and printed)
// Analyzers: KoreanAnalyzer (Nori, morphological) or CJKAnalyzer (bigrams). Queries are the
// analyzed terms ORed over title (boost 4) and body, BM25 (Lucene's default), top K.
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.TokenStream;
import org.apache.lucene.analysis.cjk.CJKAnalyzer;
import org.apache.lucene.analysis.ko.KoreanAnalyzer;
import org.apache.lucene.analysis.tokenattributes.CharTermAttribute;
import org.apache.lucene.document.Document;
import org.apache.lucene.document.Field;
import org.apache.lucene.document.StoredField;
import org.apache.lucene.document.TextField;
import org.apache.lucene.index.DirectoryReader;
import org.apache.lucene.index.IndexWriter;
import org.apache.lucene.index.IndexWriterConfig;
import org.apache.lucene.index.Term;
import org.apache.lucene.search.BooleanClause;
import org.apache.lucene.search.BooleanQuery;
import org.apache.lucene.search.BoostQuery;
import org.apache.lucene.search.IndexSearcher;
import org.apache.lucene.search.ScoreDoc;
import org.apache.lucene.search.TermQuery;
import org.apache.lucene.store.FSDirectory;

public class LuceneBench {
  static Analyzer analyzer(String name) {
    return name.equals("nori") ? new KoreanAnalyzer() : new CJKAnalyzer();
  }

  static List<String> terms(Analyzer a, String text) throws Exception {
    List<String> out = new ArrayList<>();
    try (TokenStream ts = a.tokenStream("body", text)) {
      CharTermAttribute t = ts.addAttribute(CharTermAttribute.class);
      ts.reset();
      while (ts.incrementToken()) out.add(t.toString());
      ts.end();
    }
    return out;
  }

  public static void main(String[] args) throws Exception {
    Analyzer a = analyzer(args[1]);
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    FSDirectory dir = FSDirectory.open(Paths.get(args[2]));
    if (args[0].equals("index")) {
      long t0 = System.nanoTime();
      IndexWriterConfig cfg = new IndexWriterConfig(a);
      cfg.setRAMBufferSizeMB(64);
      int n = 0;
      try (IndexWriter w = new IndexWriter(dir, cfg)) {
        for (String line; (line = in.readLine()) != null; n++) {
          String[] f = line.split("\t", 3);
          Document d = new Document();
          d.add(new StoredField("id", f[0]));
          d.add(new TextField("title", f.length > 1 ? f[1] : "", Field.Store.NO));
          d.add(new TextField("body", f.length > 2 ? f[2] : "", Field.Store.NO));
          w.addDocument(d);
        }
        w.commit();
      }
      System.out.printf("%d %.3f%n", n, (System.nanoTime() - t0) / 1e9);
      return;
    }
    int k = Integer.parseInt(args[3]);
    IndexSearcher s = new IndexSearcher(DirectoryReader.open(dir));
    List<String> lines = new ArrayList<>();
    for (String line; (line = in.readLine()) != null; ) lines.add(line);
    StringBuilder out = new StringBuilder();
    for (int pass = 0; pass < 2; pass++) { // the first pass warms the JIT up; the second is timed
    for (String line : lines) {
      String[] f = line.split("\t", 2);
      long t0 = System.nanoTime();
      BooleanQuery.Builder b = new BooleanQuery.Builder();
      int clauses = 0;
      for (String t : terms(a, f.length > 1 ? f[1] : "")) {
        if (clauses >= 1000) break;
        b.add(new BoostQuery(new TermQuery(new Term("title", t)), 4f), BooleanClause.Occur.SHOULD);
        b.add(new TermQuery(new Term("body", t)), BooleanClause.Occur.SHOULD);
        clauses += 2;
      }
      StringBuilder ids = new StringBuilder();
      if (clauses > 0)
        for (ScoreDoc sd : s.search(b.build(), k).scoreDocs) {
          if (ids.length() > 0) ids.append(' ');
          ids.append(s.doc(sd.doc).get("id"));
        }
      if (pass == 1) out.append(f[0]).append('\t').append(String.format("%.3f", (System.nanoTime() - t0) / 1e6)).append('\t')
          .append(ids).append('\n');
    }
    }
    System.out.print(out);
  }
}
