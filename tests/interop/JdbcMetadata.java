// What a BI tool built on pgJDBC (DBeaver, Metabase, ...) does on connecting: DatabaseMetaData's
// getSchemas, getTables, getColumns and getPrimaryKeys, then a query. Prints one tab-separated line
// per finding, for the test to compare with what the SQL port serves.
// Run: java -cp postgresql.jar JdbcMetadata.java URL USER PASSWORD SCHEMA QUERY
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.Statement;

public class JdbcMetadata {
    public static void main(String[] args) throws Exception {
        String url = args[0], user = args[1], password = args[2], schema = args[3], query = args[4];
        try (Connection conn = DriverManager.getConnection(url, user, password)) {
            DatabaseMetaData meta = conn.getMetaData();
            System.out.println("product\t" + meta.getDatabaseProductName() + "\t" + meta.getDatabaseProductVersion());
            try (ResultSet rs = meta.getSchemas()) {
                while (rs.next()) System.out.println("schema\t" + rs.getString("TABLE_SCHEM"));
            }
            try (ResultSet rs = meta.getTables(null, schema, "%", new String[] {"TABLE", "VIEW"})) {
                while (rs.next()) {
                    System.out.println("table\t" + rs.getString("TABLE_SCHEM") + "\t" + rs.getString("TABLE_NAME")
                        + "\t" + rs.getString("TABLE_TYPE") + "\t" + rs.getString("REMARKS"));
                }
            }
            try (ResultSet rs = meta.getColumns(null, schema, "%", "%")) {
                while (rs.next()) {
                    System.out.println("column\t" + rs.getString("TABLE_NAME") + "\t" + rs.getString("COLUMN_NAME")
                        + "\t" + rs.getString("TYPE_NAME") + "\t" + rs.getInt("ORDINAL_POSITION")
                        + "\t" + rs.getString("IS_NULLABLE"));
                }
            }
            try (ResultSet tables = meta.getTables(null, schema, "%", new String[] {"TABLE"})) {
                while (tables.next()) {
                    String table = tables.getString("TABLE_NAME");
                    try (ResultSet rs = meta.getPrimaryKeys(null, schema, table)) {
                        while (rs.next()) {
                            System.out.println("key\t" + table + "\t" + rs.getString("COLUMN_NAME") + "\t" + rs.getInt("KEY_SEQ"));
                        }
                    }
                }
            }
            try (Statement statement = conn.createStatement(); ResultSet rs = statement.executeQuery(query)) {
                ResultSetMetaData columns = rs.getMetaData();
                while (rs.next()) {
                    StringBuilder line = new StringBuilder("row");
                    for (int i = 1; i <= columns.getColumnCount(); i++) line.append('\t').append(rs.getString(i));
                    System.out.println(line);
                }
            }
        }
    }
}
